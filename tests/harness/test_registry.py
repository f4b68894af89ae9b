import subprocess
import sys

import pytest

from vdmbench.errors import DuplicateNameError, UnknownNameError
from vdmbench.registry import Registry


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
            "for what in ('models', 'metrics', 'datasets', 'compressors', 'kernels'):\n"
            "    r = CliRunner().invoke(main, ['ls', what])\n"
            "    assert r.exit_code == 0, r.output\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
