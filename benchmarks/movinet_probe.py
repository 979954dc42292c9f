"""Probe: which part of the MoViNet proxy grid keeps its samples slow to learn. The first N samples recorded by
``benchmarks/space_samples.py --space movinet`` are retrained 300 steps (the search's recipe, built-in data, one
seed) as they are and with one change each: zero-init of each layer's last BN, non-causal convs and SE, no SE,
3D instead of (2+1)D depthwise convs. Prints a markdown table.

    python benchmarks/movinet_probe.py 3
"""
import copy
import json
import sys
from pathlib import Path

from vidnas.genotype import parse_genotype
from vidnas.search import SearchConfig, build_space, evaluate_payload, prepare_data

config = SearchConfig(space="movinet")
train, val, classes = prepare_data(config, build_space(config, 2), print)
rows = [json.loads(line) for line in open(Path(__file__).parent / "results" / "space_samples_movinet_rows.jsonl", encoding="utf-8")]
samples = [r for r in rows if r["model"].startswith("sample") and r["settings"]["steps"] == 300][: int(sys.argv[1]) if len(sys.argv) > 1 else 4]

def layers(g):
    for node in g["nodes"]:
        for layer in node["layers"]:
            if layer.get("op") == "bottleneck":
                yield layer

def zero_init(g):
    for layer in layers(g):
        layer["zero_init_last_norm"] = True
def non_causal(g):
    for layer in layers(g):
        layer["causal"] = False
        if layer.get("se"):
            layer["se"]["causal"] = False
def no_se(g):
    for layer in layers(g):
        layer["se"] = None
def conv3d(g):
    for layer in layers(g):
        layer["conv_type"] = "3d"

variants = {"as is": None, "zero-init last BN": zero_init, "non-causal": non_causal, "no SE": no_se, "3d depthwise": conv3d}
print("| sample | recorded | " + " | ".join(variants) + " |")
for r in samples:
    cells = []
    for name, change in variants.items():
        g = copy.deepcopy(r["genotype"])
        if change:
            change(g)
        genotype = parse_genotype(g)
        res = evaluate_payload({"genotype": genotype.model_dump(mode="json"), "recipe": config.recipe.model_dump(mode="json"), "data": train, "val": val,
                                "threads": 2, "latency": False, "steps": 300})
        cells.append(f"{res.get('accuracy'):.3f}" if res.get("status") == "ok" else res.get("status"))
    print(f"| {r['model']} | {r['accuracy']:.3f} | " + " | ".join(cells) + " |", flush=True)
