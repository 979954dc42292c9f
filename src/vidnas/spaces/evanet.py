"""EvaNet space (reference evanet-tvn-assemblenet.md §1.4-1.6): four evolved modules inside the fixed
ResNet-like skeleton (stem, four max-pools), with the DNA's fields as choices: stem conv type and temporal
size, the three pool temporal sizes, and per module its repeats and up to ``max_branches`` parallel branches
(1×1 / conv / conv-conv / maxpool-conv; conv types 3D, (2+1)D, iTGM; temporal sizes 1…11).

Widths are the paper's (stem 64, modules 256/512/1024/2048) times ``width``; the default 0.125 is a proxy
scale for CPU search. Mutation operators follow the genome: add, remove or replace a branch, change a conv
type, change a temporal size, change repeats, change a pool size.
"""

from __future__ import annotations

import random
from typing import Any

from vidnas.errors import GenotypeError
from vidnas.genotype import Conv, EvaNetBranch, EvaNetModule, Genotype, InputSpec, Pool
from vidnas.spaces._base import Choice, SearchSpace, Values, nearest
from vidnas.zoo.evanet import create_backbone, create_network, create_stem

CONV_TYPES = ("3d", "2plus1d", "itgm")
BRANCH_TYPES = ("none", "1x1", "conv", "conv2", "maxpool_conv")
BRANCH_FIELDS = ("type", "conv_type", "time", "conv_type2", "time2")


class EvaNetSpace(SearchSpace):
    name = "evanet"

    def __init__(
        self,
        num_classes: int = 8,
        *,
        width: float = 0.125,
        frames: int = 16,
        size: int = 32,
        times: tuple[int, ...] = (1, 3, 5, 7, 9, 11),
        stem_times: tuple[int, ...] = (1, 3, 5),
        repeats: tuple[int, ...] = (1, 2, 3),
        max_branches: int = 4,
        dropout: float = 0.5,
    ):
        super().__init__(num_classes)
        self.width, self.frames, self.size = width, frames, size
        self.times, self.stem_times, self.repeats = tuple(times), tuple(stem_times), tuple(repeats)
        self.max_branches, self.dropout = max_branches, dropout
        self.stem_width = max(8, int(64 * width))
        self.widths = [max(8 * max_branches, int(w * width)) for w in (256, 512, 1024, 2048)]

    @classmethod
    def paper(cls, num_classes: int = 400) -> "EvaNetSpace":
        return cls(num_classes, width=1.0, frames=32, size=224, repeats=(2, 3, 4, 5), max_branches=6)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "num_classes": self.num_classes, "width": self.width, "frames": self.frames, "size": self.size,
                "times": list(self.times), "repeats": list(self.repeats), "max_branches": self.max_branches}

    def input_extent(self) -> tuple[int, int]:
        return self.frames, self.size

    def build_choices(self) -> list[Choice]:
        out = [
            Choice("stem_type", CONV_TYPES), Choice("stem_time", self.stem_times),
            Choice("pool1", self.times), Choice("pool3", self.times), Choice("pool4", self.times),
        ]
        for m in range(4):
            out.append(Choice(f"m{m}.repeats", self.repeats))
            for b in range(self.max_branches):
                out += [
                    Choice(f"m{m}.b{b}.type", BRANCH_TYPES if b else BRANCH_TYPES[1:]),
                    Choice(f"m{m}.b{b}.conv_type", CONV_TYPES), Choice(f"m{m}.b{b}.time", self.times),
                    Choice(f"m{m}.b{b}.conv_type2", CONV_TYPES), Choice(f"m{m}.b{b}.time2", self.times),
                ]
        return out

    def canonical(self, values: Values) -> Values:
        values = dict(values)
        for m in range(4):
            branches = [self._branch_values(values, m, b) for b in range(self.max_branches)]
            active = [br for br in branches if br["type"] != "none"]  # empty slots sink to the end
            for b in range(self.max_branches):
                br = active[b] if b < len(active) else {"type": "none"}
                kind = br["type"]
                values[f"m{m}.b{b}.type"] = kind
                values[f"m{m}.b{b}.conv_type"] = br["conv_type"] if kind in ("conv", "conv2") else CONV_TYPES[0]
                values[f"m{m}.b{b}.time"] = br["time"] if kind in ("conv", "conv2", "maxpool_conv") else self.times[0]
                values[f"m{m}.b{b}.conv_type2"] = br["conv_type2"] if kind == "conv2" else CONV_TYPES[0]
                values[f"m{m}.b{b}.time2"] = br["time2"] if kind == "conv2" else self.times[0]
        return values

    @staticmethod
    def _branch_values(values: Values, m: int, b: int) -> dict[str, Any]:
        return {f: values[f"m{m}.b{b}.{f}"] for f in BRANCH_FIELDS}

    def check_values(self, values: Values) -> None:
        for m in range(4):
            if values[f"m{m}.b0.type"] == "none":
                raise GenotypeError(f"m{m}", "a module needs at least one branch")

    def decode(self, values: Values) -> Genotype:
        values = self.canonical(values)
        modules = []
        for m in range(4):
            branches = []
            for b in range(self.max_branches):
                br = self._branch_values(values, m, b)
                if br["type"] == "none":
                    continue
                fields = {"type": br["type"]}
                if br["type"] in ("conv", "conv2"):
                    fields.update(conv_type=br["conv_type"], time=br["time"])
                if br["type"] == "maxpool_conv":
                    fields.update(time=br["time"])
                if br["type"] == "conv2":
                    fields.update(conv_type2=br["conv_type2"], time2=br["time2"])
                branches.append(EvaNetBranch(**fields))
            modules.append(EvaNetModule(width=self.widths[m], repeats=values[f"m{m}.repeats"], branches=branches))
        stem = create_stem(width=self.stem_width, time=values["stem_time"], type=values["stem_type"], pool_time=values["pool1"])
        return create_network(
            name="evanet_candidate", input=InputSpec(frames=self.frames, size=self.size), num_classes=self.num_classes, dropout=self.dropout,
            layers=create_backbone(stem=stem, modules=modules, pool_times=(values["pool1"], values["pool3"], values["pool4"])),
        )

    def encode(self, genotype: Genotype) -> Values:
        layers = [layer for node in genotype.nodes for layer in node.layers]
        modules = [layer for layer in layers if isinstance(layer, EvaNetModule)]
        pools = [layer for layer in layers if isinstance(layer, Pool)]
        stem = layers[0] if layers and isinstance(layers[0], Conv) else None
        if len(modules) != 4 or len(pools) != 4 or stem is None:
            raise GenotypeError("nodes", "an EvaNet-space genotype is stem conv, pool, then 4 modules separated by pools")
        values: Values = {
            "stem_type": stem.type, "stem_time": nearest(self.stem_times, stem.kernel[0]),
            "pool1": nearest(self.times, pools[0].kernel[0]), "pool3": nearest(self.times, pools[2].kernel[0]),
            "pool4": nearest(self.times, pools[3].kernel[0]),
        }
        for m, module in enumerate(modules):
            values[f"m{m}.repeats"] = nearest(self.repeats, module.repeats)
            for b in range(self.max_branches):
                branch = module.branches[b] if b < len(module.branches) else None
                values[f"m{m}.b{b}.type"] = branch.type if branch else "none"
                values[f"m{m}.b{b}.conv_type"] = branch.conv_type if branch else CONV_TYPES[0]
                values[f"m{m}.b{b}.time"] = nearest(self.times, branch.time) if branch else self.times[0]
                values[f"m{m}.b{b}.conv_type2"] = branch.conv_type2 if branch else CONV_TYPES[0]
                values[f"m{m}.b{b}.time2"] = nearest(self.times, branch.time2) if branch else self.times[0]
        return self.canonical(values)

    def seed_names(self) -> list[str]:
        return ["evanet_arch1_rgb", "evanet_arch2_rgb"]

    # -- operators -----------------------------------------------------------------------------------
    def operators(self) -> dict[str, Any]:
        return {
            "add_branch": self._add_branch,
            "remove_branch": self._remove_branch,
            "replace_branch": self._replace_branch,
            "change_conv_type": self._change_conv_type,
            "change_temporal_size": self._change_time,
            "change_repeats": self._change_repeats,
            "change_pool": self._change_pool,
        }

    def _count(self, values: Values, m: int) -> int:
        return sum(values[f"m{m}.b{b}.type"] != "none" for b in range(self.max_branches))

    def _random_branch(self, rng: random.Random) -> dict[str, Any]:
        return {"type": rng.choice(BRANCH_TYPES[1:]), "conv_type": rng.choice(CONV_TYPES), "time": rng.choice(self.times),
                "conv_type2": rng.choice(CONV_TYPES), "time2": rng.choice(self.times)}

    def _set_branch(self, values: Values, m: int, b: int, branch: dict[str, Any]) -> Values:
        return dict(values, **{f"m{m}.b{b}.{f}": v for f, v in branch.items()})

    def _add_branch(self, values: Values, rng: random.Random) -> Values | None:
        m = rng.randrange(4)
        n = self._count(values, m)
        return self._set_branch(values, m, n, self._random_branch(rng)) if n < self.max_branches else None

    def _remove_branch(self, values: Values, rng: random.Random) -> Values | None:
        m = rng.randrange(4)
        n = self._count(values, m)
        if n <= 1:
            return None
        values = self._set_branch(values, m, rng.randrange(n), {"type": "none"})
        return self.canonical(values)

    def _replace_branch(self, values: Values, rng: random.Random) -> Values | None:
        m = rng.randrange(4)
        return self._set_branch(values, m, rng.randrange(self._count(values, m)), self._random_branch(rng))

    def _conv_slots(self, values: Values, kinds: tuple[str, ...]) -> list[tuple[int, int]]:
        return [(m, b) for m in range(4) for b in range(self.max_branches) if values[f"m{m}.b{b}.type"] in kinds]

    def _change_conv_type(self, values: Values, rng: random.Random) -> Values | None:
        slots = self._conv_slots(values, ("conv", "conv2"))
        choices = [("stem_type", None)] + [(f"m{m}.b{b}.conv_type", None) for m, b in slots]
        choices += [(f"m{m}.b{b}.conv_type2", None) for m, b in self._conv_slots(values, ("conv2",))]
        key, _ = rng.choice(choices)
        return dict(values, **{key: rng.choice([c for c in CONV_TYPES if c != values[key]])})

    def _change_time(self, values: Values, rng: random.Random) -> Values | None:
        keys = [f"m{m}.b{b}.time" for m, b in self._conv_slots(values, ("conv", "conv2", "maxpool_conv"))]
        keys += [f"m{m}.b{b}.time2" for m, b in self._conv_slots(values, ("conv2",))]
        if not keys:
            return None
        key = rng.choice(keys)
        return dict(values, **{key: rng.choice([t for t in self.times if t != values[key]])})

    def _change_repeats(self, values: Values, rng: random.Random) -> Values | None:
        key = f"m{rng.randrange(4)}.repeats"
        other = [r for r in self.repeats if r != values[key]]
        return dict(values, **{key: rng.choice(other)}) if other else None

    def _change_pool(self, values: Values, rng: random.Random) -> Values | None:
        key = rng.choice(["stem_time", "pool1", "pool3", "pool4"])
        options = self.stem_times if key == "stem_time" else self.times
        return dict(values, **{key: rng.choice([t for t in options if t != values[key]])})
