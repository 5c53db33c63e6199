"""A non-editable install works from any folder: sql/ and config/ ship inside the wheel."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_runs_ingest_from_another_directory(tmp_path):
    # Arrange: build the wheel and install it, without dependencies, into a fresh venv that borrows this
    # environment's third-party packages through a .pth file (the checkout itself is not on its path).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("trader_cols-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    target = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    Path(target, "borrowed_deps.pth").write_text(site.getsitepackages()[0] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TCOLS_WAREHOUSE")}

    # Act
    where = subprocess.run([str(py), "-c", "import trader_cols, trader_cols.sqlfiles as s; "
                            "print(trader_cols.__file__); print(s.resource_dir('sql')); print(s.resource_dir('config'))"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    run = subprocess.run([str(env_dir / "bin" / "tcols"), "ingest", "--source", "synthetic", "--symbols", "SPY",
                          "--start", "2022-01-01", "--end", "2022-01-31"],
                         cwd=work, env=env, capture_output=True, text=True)

    # Assert
    assert all(line.startswith(target) for line in where), where
    assert run.returncode == 0, run.stderr
    assert (work / "warehouse" / "tcols.duckdb").exists()
    assert "SPY" in run.stdout and "stored" in run.stdout
