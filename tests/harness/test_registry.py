import subprocess
import sys
from pathlib import Path

import pytest

from vdmbench.errors import DuplicateNameError, UnknownNameError
from vdmbench.registry import Registry

ROOT = Path(__file__).resolve().parents[2]


def test_lazy_entry_is_imported_only_on_get():
    reg: Registry[object] = Registry("thing")
    reg.add("dec", "decimal:Decimal", "a number")
    assert reg.names() == ["dec"]
    import decimal

    assert reg.get("dec") is decimal.Decimal


def test_duplicate_rejected():
    reg: Registry[object] = Registry("thing")
    reg.add("a", "decimal:Decimal")
    with pytest.raises(DuplicateNameError, match="'a' is already registered"):
        reg.add("a", "fractions:Fraction")


def test_unknown_name_suggests_close_names():
    reg: Registry[object] = Registry("metric")
    for n in ("fvd_synth", "is_synth", "psnr"):
        reg.add(n, "decimal:Decimal")
    with pytest.raises(UnknownNameError) as e:
        reg.get("fvd_snth")
    msg = str(e.value)
    assert "Did you mean 'fvd_synth'" in msg and "Known metrics: fvd_synth, is_synth, psnr" in msg


def test_listing_does_not_import_torch():
    code = ("import sys\n"
            "from click.testing import CliRunner\n"
            "from vdmbench.cli import main\n"
            "for what in ('models', 'metrics', 'datasets', 'transforms', 'compressors'):\n"
            "    r = CliRunner().invoke(main, ['ls', what])\n"
            "    assert r.exit_code == 0, r.output\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_ls_and_validate_work_where_torch_is_not_importable(tmp_path: Path) -> None:
    """With torch unimportable, `ls` lists and `validate` checks everything it checks with
    torch: schema, names, every options mapping (the registered classes' torch-free configs)
    and the checks; `run` is not expected to work there."""
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "suites" / "synth_i2v.yaml").read_text().replace(
        "  - name: fvd_synth\n", "  - {name: fvd_synth, options: {batch_size: 0}}\n"))
    code = ("import sys\n"
            "sys.modules['torch'] = None  # import torch → ImportError\n"
            "from click.testing import CliRunner\n"
            "from vdmbench.cli import main\n"
            "r = CliRunner().invoke(main, ['ls', 'transforms'])\n"
            "assert r.exit_code == 0 and 'triton' in r.output, r.output\n"
            "r = CliRunner().invoke(main, ['validate', 'suites/synth_i2v.yaml'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(r.output)\n"
            f"r = CliRunner().invoke(main, ['validate', {str(bad)!r}])\n"
            "assert r.exit_code == 2, r.output\n"
            "print(r.output)\n"
            "r = CliRunner().invoke(main, ['validate', 'suites/nope.yaml'])\n"
            "assert r.exit_code == 2, r.output\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "suites/synth_i2v.yaml: ok" in out.stdout
    assert "not checked" not in out.stdout
    assert "metrics.0.options.batch_size" in out.stdout or \
        "metrics[0].options.batch_size" in out.stdout, out.stdout
