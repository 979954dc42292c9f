"""What every search space is: a fixed list of categorical choices, a decoder from choice values to a
genotype, the inverse parser, and named mutation operators that edit choice values.

The flat categorical encoding is what makes strategies space-agnostic: random search samples every choice,
evolution applies a space's named operators, probabilistic NAS keeps one categorical distribution per choice.
Variable structure (a block that may or may not exist, a branch slot that may be empty) is a choice too; the
values of inactive slots are *canonicalised* to their first option so that one architecture has exactly one
encoding (``encode(decode(v)) == canonical(v)``).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vidnas.errors import GenotypeError
from vidnas.genotype import Genotype, parse_genotype

Values = dict[str, Any]
Operator = Callable[[Values, random.Random], Values | None]
"""A named mutation: returns edited values (a copy), or None when it does not apply to this architecture."""


@dataclass(frozen=True)
class Choice:
    """One categorical decision of a space: its name and its options (JSON values)."""

    name: str
    options: tuple[Any, ...]

    def index(self, value: Any) -> int:
        try:
            return self.options.index(value)
        except ValueError:
            raise GenotypeError(f"<choice {self.name}>", f"{value!r} is not one of {list(self.options)}") from None


def nearest(options: tuple[Any, ...] | list[Any], value: Any) -> Any:
    """The option closest to ``value`` (numbers by distance, anything else by equality, else the first)."""
    if value in options:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        numeric = [o for o in options if isinstance(o, (int, float)) and not isinstance(o, bool)]
        if numeric:
            return min(numeric, key=lambda o: (abs(o - value), o))
    return options[0]


def expansion_for(out: int, inner: int, options: tuple[float, ...]) -> float:
    """The first expansion ratio whose rounded inner width (multiple of 8) is ``inner``, else the nearest ratio."""
    from vidnas.genotype import make_divisible

    for ratio in options:
        if make_divisible(out * ratio, 8) == inner:
            return ratio
    return nearest(options, inner / out)


class SearchSpace(ABC):
    """Subclasses define ``name``, ``choices()``, ``decode``, ``encode`` (may snap foreign genotypes to the
    nearest options), ``canonical`` and ``operators``; sampling, mutation, validation and the index encoding
    are shared."""

    name: str = "space"
    max_tries: int = 200
    streams: tuple[str, ...] = ("rgb",)  # input modalities the space's networks read

    def __init__(self, num_classes: int = 8):
        self.num_classes = num_classes
        self._choices: list[Choice] | None = None

    # -- to be defined by a space --------------------------------------------------------------------
    @abstractmethod
    def build_choices(self) -> list[Choice]: ...

    @abstractmethod
    def decode(self, values: Values) -> Genotype: ...

    @abstractmethod
    def encode(self, genotype: Genotype) -> Values: ...

    def canonical(self, values: Values) -> Values:
        """Values with inactive slots reset to their first option (one encoding per architecture)."""
        return dict(values)

    def operators(self) -> dict[str, Operator]:
        return {}

    def seed_names(self) -> list[str]:
        """Zoo models this space can express (snapped to its options) to seed a search."""
        return []

    def check_values(self, values: Values) -> None:
        """Extra validity rules beyond shape inference; raise GenotypeError."""

    def input_extent(self) -> tuple[int, int]:
        """(source frames a clip spans, largest frame size) over the space: what a data cache must hold."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The space's settings as JSON (stored in a study so a resumed search rebuilds the same space)."""
        return {"name": self.name, "num_classes": self.num_classes}

    # -- shared --------------------------------------------------------------------------------------
    def choices(self) -> list[Choice]:
        if self._choices is None:
            self._choices = self.build_choices()
            names = [c.name for c in self._choices]
            assert len(set(names)) == len(names), f"{self.name}: duplicate choice names"
        return self._choices

    def cardinality(self) -> float:
        """Number of encodings (an upper bound on distinct architectures)."""
        total = 1.0
        for choice in self.choices():
            total *= len(choice.options)
        return total

    def to_indices(self, genotype_or_values: Genotype | Values) -> list[int]:
        values = self.encode(genotype_or_values) if isinstance(genotype_or_values, Genotype) else self.canonical(genotype_or_values)
        return [choice.index(values[choice.name]) for choice in self.choices()]

    def from_indices(self, indices: list[int]) -> Genotype:
        choices = self.choices()
        if len(indices) != len(choices):
            raise GenotypeError("<indices>", f"expected {len(choices)} choices for space {self.name}, got {len(indices)}")
        return self.decode({c.name: c.options[i] for c, i in zip(choices, indices)})

    def validate(self, genotype: Genotype | Values) -> Genotype:
        """The genotype if it belongs to this space and its shapes work out; GenotypeError otherwise."""
        if isinstance(genotype, dict) and "nodes" not in genotype:
            values = self.checked_values(genotype)
            genotype = self.decode(values)
        elif not isinstance(genotype, Genotype):
            genotype = parse_genotype(genotype)
        genotype.check()
        values = self.encode(genotype)
        self.check_values(values)
        if self.decode(values).fingerprint() != genotype.fingerprint():
            raise GenotypeError("<genotype>", f"not an architecture of the {self.name} space (it does not round-trip through its choices)")
        return genotype

    def checked_values(self, values: Values) -> Values:
        """A values dict from outside (a file, a user) in canonical form, or GenotypeError naming the choice that
        is missing or holds a value that is not one of its options."""
        try:
            values = self.canonical(values)
        except KeyError as error:
            raise GenotypeError(str(error.args[0]), f"missing: the {self.name} space needs a value for every choice") from None
        for choice in self.choices():
            if choice.name not in values:
                raise GenotypeError(choice.name, f"missing: the {self.name} space needs a value for every choice")
            if values[choice.name] not in choice.options:
                raise GenotypeError(choice.name, f"{values[choice.name]!r} is not one of the options {list(choice.options)}")
        self.check_values(values)
        return values

    def is_valid(self, values: Values) -> bool:
        try:
            self.check_values(values)
            self.decode(values).check()
            return True
        except GenotypeError:
            return False

    def sample_values(self, rng: random.Random) -> Values:
        for _ in range(self.max_tries):
            values = self.canonical({c.name: rng.choice(c.options) for c in self.choices()})
            if self.is_valid(values):
                return values
        raise GenotypeError("<space>", f"{self.name}: no valid architecture in {self.max_tries} random draws; the options are too tight")

    def sample(self, rng: random.Random) -> Genotype:
        return self.decode(self.sample_values(rng))

    def resample_one(self, values: Values, rng: random.Random) -> Values | None:
        """The generic operator: one choice (among those that matter now) gets another option."""
        canonical = self.canonical(values)
        live = [c for c in self.choices() if len(c.options) > 1]
        rng.shuffle(live)
        for choice in live:
            other = [o for o in choice.options if o != canonical[choice.name]]
            edited = dict(canonical, **{choice.name: rng.choice(other)})
            if self.canonical(edited) != canonical:
                return edited
        return None

    def mutate(self, genotype: Genotype | Values, rng: random.Random, count: int = 1) -> tuple[Genotype, list[str]]:
        """Apply ``count`` named operators (each chosen uniformly among those that apply); the child is valid
        and differs from the parent. Returns (child, operator names)."""
        parent = self.encode(genotype) if isinstance(genotype, Genotype) else self.canonical(genotype)
        operators = dict(self.operators()) or {"resample": self.resample_one}
        for _ in range(self.max_tries):
            values, applied = dict(parent), []
            for _ in range(max(1, count)):
                names = list(operators)
                rng.shuffle(names)
                for name in names:
                    edited = operators[name](dict(values), rng)
                    if edited is not None and self.canonical(edited) != self.canonical(values):
                        values, applied = self.canonical(edited), applied + [name]
                        break
            if applied and values != parent and self.is_valid(values):
                return self.decode(values), applied
        raise GenotypeError("<space>", f"{self.name}: no valid mutation found in {self.max_tries} tries")

    def seeds(self) -> list[Genotype]:
        """The zoo architectures this space seeds a search with, snapped to its options and proxy input."""
        from vidnas.zoo import get_genotype

        out, seen = [], set()
        for name in self.seed_names():
            values = self.canonical(self.encode(get_genotype(name)))
            if self.is_valid(values):
                genotype = self.decode(values).model_copy(update={"name": f"{self.name}_seed_{name}"})
                if genotype.fingerprint() not in seen:  # two zoo models may snap to one architecture
                    seen.add(genotype.fingerprint())
                    out.append(genotype)
        return out
