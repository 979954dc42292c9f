"""The architecture language: JSON round-trips, fingerprints, validation paths, shape inference, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from genotype_strategies import genotypes
from hypothesis import HealthCheck, assume, given, settings

from vidnas.errors import GenotypeError
from vidnas.genotype import (
    Conv,
    Genotype,
    Head,
    InputSpec,
    Node,
    Shape,
    load_genotype,
    make_divisible,
    output_size,
    pad_amounts,
    parse_genotype,
    summary,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _checked(genotype: Genotype) -> bool:
    try:
        genotype.check()
    except GenotypeError:
        return False
    return True


@FAST
@given(genotypes())
def test_json_round_trip_is_exact(genotype: Genotype) -> None:
    assume(_checked(genotype))
    for text in (genotype.to_json(), genotype.to_json(full=True), genotype.to_json(indent=None)):
        again = parse_genotype(text)
        assert again == genotype
        assert again.fingerprint() == genotype.fingerprint()
        assert again.to_json() == genotype.to_json()
        assert again.check() == genotype.check()


@FAST
@given(genotypes())
def test_structural_round_trip_even_for_shape_invalid_genotypes(genotype: Genotype) -> None:
    assert parse_genotype(genotype.to_json(), check=False) == genotype


def test_fingerprint_ignores_name_but_not_architecture(example_path: Path) -> None:
    genotype = load_genotype(example_path)
    data = genotype.to_dict()
    renamed = parse_genotype({**data, "name": "other", "description": "x", "family": "y"})
    assert renamed.fingerprint() == genotype.fingerprint()
    assert genotype.with_input(frames=genotype.input.frames + 2).fingerprint() != genotype.fingerprint()
    assert genotype.with_num_classes(7).fingerprint() != genotype.fingerprint()
    assert len(genotype.fingerprint()) == 16


def test_fingerprint_is_stable_across_releases() -> None:
    # a changed fingerprint silently breaks de-duplication of stored studies: change it only on purpose
    assert load_genotype(Path(__file__).parents[1] / "examples" / "x3d_s.json").fingerprint() == "0405e448cb8f72ad"


def _base() -> dict:
    return {
        "input": {"frames": 8, "size": 32},
        "nodes": [{"name": "body", "layers": [{"op": "conv", "out": 8, "kernel": [3, 3, 3]}, {"op": "conv", "out": 8}]}],
        "head": {"num_classes": 5},
    }


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (lambda d: d["nodes"][0]["layers"][1].update(kernel=[0, 3, 3]), "nodes[0].layers[1].kernel[0]", "must be >= 1"),
        (lambda d: d["nodes"][0]["layers"][0].update(op="convolution"), "nodes[0].layers[0]", "unknown op 'convolution'"),
        (lambda d: d["nodes"][0]["layers"][0].update(colour="red"), "nodes[0].layers[0].colour", "not a known field"),
        (lambda d: d["nodes"][0]["layers"][0].update(act="gelu"), "nodes[0].layers[0].act", "must be one of"),
        (lambda d: d["input"].update(frames=0), "input.frames", "must be >= 1"),
        (lambda d: d["head"].pop("num_classes"), "head.num_classes", "is required"),
        (lambda d: d["nodes"][0].update(name="1st"), "nodes[0].name", "identifier"),
        (lambda d: d["nodes"][0].update(inputs=["flow"]), "nodes[0].inputs[0].source", "not an input stream"),
        (lambda d: d["nodes"][0]["layers"][0].update(kernel=[3, 3, 99], padding="valid"), "nodes[0].layers[0].kernel", "does not fit"),
        (lambda d: d["nodes"][0]["layers"][0].update(groups=3), "nodes[0].layers[0].groups", "must divide"),
        (lambda d: d["head"].update(sources=["nowhere"]), "head.sources[0]", "not a node"),
        (
            lambda d: d["nodes"][0]["layers"].append({"op": "residual", "body": [{"op": "conv", "out": 4}], "shortcut": "identity"}),
            "nodes[0].layers[2].shortcut",
            "identity shortcut",
        ),
        (
            lambda d: d["nodes"][0]["layers"].append(
                {"op": "evanet_module", "width": 6, "branches": [{"type": "conv2"}, {"type": "1x1"}]}
            ),
            "nodes[0].layers[2].branches[0]",
            "needs at least 4",
        ),
        (
            lambda d: d["nodes"][0]["layers"].append({"op": "bottleneck", "out": 8, "inner": 8, "causal": True, "se": {}}),
            "nodes[0].layers[2].se.causal",
            "must be true",
        ),
        (
            lambda d: d["nodes"][0]["layers"].append({"op": "residual", "body": [{"op": "conv", "kernel": [1, 3, 3], "padding": "valid"}]}),
            "nodes[0].layers[2].shortcut",
            "projected shortcut",
        ),
    ],
)
def test_invalid_genotypes_name_the_path_and_rule(edit, path: str, words: str) -> None:  # noqa: ANN001
    data = _base()
    parse_genotype(json.loads(json.dumps(data)))  # the base is valid
    edit(data)
    with pytest.raises(GenotypeError) as caught:
        parse_genotype(data, source="model.json")
    first_path, message = caught.value.issues[0]
    assert first_path == path
    assert words in message
    assert str(caught.value).startswith(f"model.json: {path}: ")


def test_all_structural_problems_are_reported_together() -> None:
    data = _base()
    data["input"]["frames"] = -1
    data["head"]["num_classes"] = 0
    data["nodes"][0]["layers"][0]["stride"] = [1, 0, 1]
    with pytest.raises(GenotypeError) as caught:
        parse_genotype(data)
    paths = {p for p, _ in caught.value.issues}
    assert paths == {"input.frames", "head.num_classes", "nodes[0].layers[0].stride[1]"}
    assert "(and 2 more problems)" in str(caught.value)


def test_bad_files_fail_with_the_file_name(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(GenotypeError, match="missing.json: no such file"):
        load_genotype(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"input": {"frames": 8,}')
    with pytest.raises(GenotypeError, match=r"broken.json: not valid JSON: .* line 1 column"):
        load_genotype(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(GenotypeError, match="a genotype is a JSON object"):
        load_genotype(listed)


def test_tf_same_padding_matches_tensorflow_rules() -> None:
    # out = ceil(n/s); total pad = max((out-1)s + k - n, 0), the extra cell at the end
    assert pad_amounts(224, 7, 2, 1, "same") == (2, 3)
    assert pad_amounts(160, 3, 2, 1, "same") == (0, 1)
    assert pad_amounts(160, 5, 2, 1, "same") == (1, 2)
    assert pad_amounts(10, 2, 1, 1, "same") == (0, 1)
    assert pad_amounts(8, 3, 1, 4, "same") == (4, 4)
    assert pad_amounts(8, 5, 1, 2, "same", causal=True) == (8, 0)
    assert pad_amounts(224, 7, 2, 1, "symmetric") == (3, 3)
    assert output_size(112, 5, 3, 1, "same") == 38
    assert output_size(224, 7, 2, 1, "symmetric") == 112
    assert output_size(5, 3, 1, 1, "valid") == 3


def test_make_divisible_matches_movinet_and_x3d_rounding() -> None:
    assert make_divisible(46, 8) == 48  # MoViNet E=184, '3d' SE
    assert make_divisible(92, 8) == 96  # '2plus3d'
    assert [make_divisible(c / 16, 8, 8) for c in (54, 108, 216, 432)] == [8, 8, 16, 32]  # X3D SE widths
    assert make_divisible(12 * 2.9, 8) == 32  # X3D-XL stem with divisor-8 rounding


def test_shape_inference_of_the_examples_matches_the_reference(example_path: Path) -> None:
    genotype = load_genotype(example_path)
    shapes = genotype.check()
    expected = {
        # reference: TVN-1 block outputs (256,112,1) (512,56,1) (512,19,1) (2048,10,1)
        "tvn1": {"block1": Shape(256, 1, 112, 112), "block2": Shape(512, 1, 56, 56), "block3": Shape(512, 1, 19, 19), "block4": Shape(2048, 1, 10, 10)},
        # EvaNet: truncated width 2046, 7x7 at 224, T/4 frames
        "evanet_arch1_rgb": {"backbone": Shape(2046, 8, 7, 7)},
        "assemblenet50": {"node0": Shape(32, 32, 56, 56), "node7": Shape(128, 32, 56, 56), "node11": Shape(256, 32, 28, 28), "node14": Shape(2048, 32, 7, 7)},
        "movinet_a0_stream": {"backbone": Shape(480, 50, 6, 6)},  # reference §1.5: 172 -> 6
        "x3d_s": {"backbone": Shape(432, 13, 5, 5)},
    }[genotype.name]
    for name, shape in expected.items():
        assert shapes[name] == shape, name


def test_summary_lists_every_node_and_layer(example_path: Path) -> None:
    genotype = load_genotype(example_path)
    text = summary(genotype)
    assert genotype.fingerprint() in text
    for node in genotype.nodes:
        assert node.name in text
    assert text.count("\n") >= len(genotype.nodes) + sum(len(n.layers) for n in genotype.nodes)


def test_default_inputs_chain_nodes_and_multi_stream_needs_explicit_inputs() -> None:
    genotype = Genotype(
        input=InputSpec(frames=4, size=16),
        nodes=[Node(name="a", layers=[Conv(out=4)]), Node(name="b", layers=[Conv(out=6)])],
        head=Head(num_classes=3),
    )
    assert [e.source for e in genotype.node_inputs(0)] == ["rgb"]
    assert [e.source for e in genotype.node_inputs(1)] == ["a"]
    assert genotype.check()["b"] == Shape(6, 4, 16, 16)
    data = genotype.to_dict()
    data["input"]["streams"] = [{"name": "rgb"}, {"name": "flow", "modality": "flow", "channels": 2}]
    with pytest.raises(GenotypeError, match=r"nodes\[0\].inputs: must name one of the input streams"):
        parse_genotype(data)


def test_edge_weight_must_be_a_probability() -> None:
    data = _base()
    data["nodes"][0]["inputs"] = [{"source": "rgb", "weight": 1.5}]
    with pytest.raises(GenotypeError, match=r"nodes\[0\].inputs\[0\].weight: must be < 1"):
        parse_genotype(data)
