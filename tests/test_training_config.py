"""The training config (twplate.training.config) and the import order of twplate.training. No paddle needed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from twplate.cli import main
from twplate.preprocess import PreprocessConfig
from twplate.training.config import ConfigError, DetTrainConfig, TrainConfig, TrainSource, load_config

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ROOT / "src" / "twplate" / "training"


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yml")), ids=lambda p: p.name)
def test_shipped_configs_load_and_survive_a_round_trip(path: Path, tmp_path: Path):
    cfg = load_config(path)
    if isinstance(cfg, DetTrainConfig):
        assert cfg.Data.train_boxes and cfg.Data.val
    else:
        assert cfg.Data.train and all(isinstance(src, TrainSource) for src in cfg.Data.train)
        assert cfg.Architecture.time_stride in (4, 8)
    (tmp_path / "config.yml").write_text(yaml.safe_dump(cfg.to_dict(), allow_unicode=True), encoding="utf-8")
    assert load_config(tmp_path / "config.yml") == cfg


@pytest.mark.parametrize(("override", "message"), [
    ("Global.total_step=100", r"unknown key Global\.total_step \(Global has: .*total_steps"),
    ("Globl.seed=1", r"unknown section Globl"),
    ("Data.train=[{label_file: a.tsv, wieght: 3}]", r"unknown key Data\.train\[0\]\.wieght"),
    ("Data.train=[{weight: 3}]", r"Data\.train\[0\]\.label_file is required"),
    ("Preprocess.min_widht=80", r"unknown key Preprocess\.min_widht"),
])
def test_unknown_keys_are_rejected_by_name(override: str, message: str):
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT / "configs" / "twplate_rec.yml", [override])


@pytest.mark.parametrize(("override", "message"), [
    ("Global.total_steps=many", r"Global\.total_steps must be an integer, got 'many'"),
    ("Global.total_steps=1.5", r"Global\.total_steps must be an integer"),
    ("Global.use_guide=1", r"Global\.use_guide must be true or false"),
    ("Optimizer.lr=fast", r"Optimizer\.lr must be a number"),
    ("Data.min_width_range=[80]", r"Data\.min_width_range must be a list of 2 values"),
    ("Data.min_width_range=[160, 80]", r"Data\.min_width_range must be \[lo, hi\]"),
    ("Data.fixed_width_range=[64, 80]", r"exclude each other"),   # the file sets min_width_range
    ("Data.tilt_max_deg=90", r"Data\.tilt_max_deg must be between 0 and 90 degrees, got 90"),
    ("Data.far_prob=1.5", r"Data\.far_prob must be in \[0, 1\], got 1.5"),
    ("Data.augment_prob=1.7", r"Data\.augment_prob must be in \[0, 1\], got 1\.7"),
    ("Optimizer.warmup_steps=-1", r"Optimizer needs lr > 0, warmup_steps >= 0 and batch_size >= 1"),
    ("Global.workers=0", r"Global\.workers must be >= 1, got 0"),
    ("Preprocess.max_width=150", r"Data\.min_width_range \[80, 160\] reaches past Preprocess\.max_width 150"),
    ("Preprocess.min_width=400", r"Preprocess\.min_width 400 is above Preprocess\.max_width 320"),
    ("Global=3", r"must look like Section\.key=value"),
    ("Architecture.name=ppocrv5", r"Architecture\.name must be one of \('ppocrv3', 'ppocrv4'\), not 'ppocrv5'"),
    ("Distill.weight=-1", r"Distill\.weight must be >= 0, got -1"),
    ("Distill.feature_weight=-1", r"Distill\.feature_weight must be >= 0, got -1"),
    ("Distill.feature_weight=1", r"Distill\.feature_weight needs a Distill\.teacher to regress onto"),
])
def test_wrong_values_are_rejected_by_name(override: str, message: str):
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT / "configs" / "twplate_rec.yml", [override])


@pytest.mark.parametrize("overrides", [["Data.min_width_range=[80, 400]", "Preprocess.max_width=400"],
                                       ["Preprocess.max_width=400", "Data.min_width_range=[80, 400]"]])
def test_checks_across_sections_see_every_override(overrides: list[str]):
    """What spans sections is checked once all overrides are in, in whatever order they come (floors up to
    400 are refused with the file's max_width of 320, and fine with 400)."""
    cfg = load_config(ROOT / "configs" / "twplate_rec.yml", overrides)
    assert (cfg.Data.min_width_range, cfg.Preprocess.max_width) == ((80, 400), 400)


def test_a_batch_that_does_not_split_over_the_workers_is_refused_before_they_start(tmp_path: Path):
    pytest.importorskip("paddle")
    from twplate.training.train import train

    cfg = load_config(ROOT / "configs" / "twplate_rec.yml", [f"Global.output_dir={tmp_path / 'run'}",
                                                             "Global.workers=3", "Optimizer.batch_size=32"])
    with pytest.raises(ConfigError, match=r"Optimizer\.batch_size 32 must be a multiple of the 3 training processes"):
        train(cfg)
    assert not (tmp_path / "run").exists()


def test_a_teacher_that_cannot_be_read_is_refused_in_one_line_before_any_process_starts(tmp_path: Path, capsys):
    """``twplate train`` names a ``Distill.teacher`` without its run's settings, with settings this twplate
    cannot read, or of another architecture when its backbone features are to be regressed onto, in one line
    (exit status 2), and starts nothing."""
    pytest.importorskip("paddle")
    newer = tmp_path / "newer"  # a teacher's run from a twplate that knows a key this one does not
    newer.mkdir()
    (newer / "config.yml").write_text("Distill:\n  align: warped\n", encoding="utf-8")
    v4 = tmp_path / "v4"  # a PP-OCRv4 teacher's run, at this config's time stride
    v4.mkdir()
    (v4 / "config.yml").write_text("Architecture:\n  name: ppocrv4\n", encoding="utf-8")
    cases = [(tmp_path / "missing" / "latest.pdparams", [], r"Distill\.teacher: .*missing/config\.yml not found"),
             (newer / "latest.pdparams", [], r"Distill\.teacher: the run settings of .*newer/latest\.pdparams "
                                             r"cannot be read: .*unknown key Distill\.align"),
             (v4 / "latest.pdparams", ["-o", "Distill.feature_weight=1"],
              r"Distill\.feature_weight: the teacher .*v4/latest\.pdparams is ppocrv4, this run ppocrv3")]
    for teacher, overrides, message in cases:
        out = tmp_path / "run"
        code = main(["train", "-c", str(ROOT / "configs" / "twplate_rec.yml"), "-o", f"Distill.teacher={teacher}",
                     "-o", f"Global.output_dir={out}", *overrides])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("twplate train: error: ") and len(err.strip().splitlines()) == 1, err
        assert re.search(message, err), err
        assert not out.exists()


def test_a_bad_file_is_named_with_its_key(tmp_path: Path):
    path = tmp_path / "c.yml"
    path.write_text("Optimizer:\n  batch_size: 32\n  lr: 3e-4\n  momentum: 0.9\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path.name}: unknown key Optimizer\.momentum"):
        load_config(path)


def test_values_take_their_fields_types():
    cfg = load_config(None, ["Optimizer.lr=1e-4", "Data.train=[{label_file: a.tsv, weight: 3}]",
                             "Data.fixed_width_range=[64, 80]", "Data.val=null"])
    assert cfg.Optimizer.lr == 1e-4   # YAML 1.1 reads 1e-4 as a string; a number field takes it
    assert cfg.Data.train == [TrainSource("a.tsv", 3.0)] and isinstance(cfg.Data.train[0].weight, float)
    assert cfg.Data.fixed_width_range == (64, 80) and cfg.Data.val is None


def test_an_older_runs_config_loads_with_defaults_for_what_it_lacks(tmp_path: Path):
    """A run folder's config.yml from before the width ranges and the Architecture section."""
    old = {"Global": {"output_dir": "runs/old", "total_steps": 10, "seed": 3},
           "Optimizer": {"lr": 3.0e-4, "batch_size": 16},
           "Data": {"train": [{"label_file": "t.tsv", "weight": 1}], "val": None, "augment_prob": 0.5},
           "Preprocess": {"height": 48, "min_width": 152, "max_width": 320, "mean": 0.5, "std": 0.5}}
    (tmp_path / "config.yml").write_text(yaml.safe_dump(old), encoding="utf-8")
    cfg = load_config(tmp_path / "config.yml")
    assert cfg.Global.total_steps == 10 and cfg.Global.eval_every == TrainConfig().Global.eval_every
    assert cfg.Architecture.time_stride == 8 and cfg.Data.min_width_range is None
    assert cfg.Preprocess == PreprocessConfig(min_width=152)


def test_train_command_refuses_a_misspelt_override(capsys: pytest.CaptureFixture[str]):
    code = main(["train", "-c", str(ROOT / "configs" / "twplate_rec.yml"), "-o", "Global.total_step=100"])
    assert code == 2
    assert "Global.total_step" in capsys.readouterr().err


def _training_imports() -> dict[str, set[str]]:
    """For each module of twplate.training, the modules of twplate.training it imports, at any depth of the
    file (module level and inside functions)."""
    modules = {".".join(p.relative_to(TRAINING).with_suffix("").parts): p for p in TRAINING.rglob("*.py")}
    modules = {name.removesuffix(".__init__"): path for name, path in modules.items()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:  # `from . import x` names a module; `from .m import f` names m
                    sub = f"{target}.{alias.name}".lstrip(".")
                    found.add(sub if sub in modules else target.lstrip("."))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("twplate.training."):
                found.add(node.module.removeprefix("twplate.training."))
            elif isinstance(node, ast.Import):
                found |= {a.name.removeprefix("twplate.training.") for a in node.names
                          if a.name.startswith("twplate.training.")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph``, or []."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_training_modules_import_one_way():
    graph = _training_imports()
    assert graph["config"] == set()  # everything imports config, config imports nothing of training
    assert "config" in graph["checkpoint"] and "checkpoint" in graph["evaluate"]
    assert {"config", "checkpoint", "evaluate", "loop"} <= graph["train"]
    assert {"loop", "det.model", "det.data"} <= graph["det.train"] and "train" not in graph["det.train"]
    assert graph["augment"] == set() and "augment" in graph["synth.scene"]
    assert _cycle(graph) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
