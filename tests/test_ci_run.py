"""CI's own script (.ci/run) on a machine whose PostgreSQL does not let it in: a throwaway cluster.

Forced with CI_FORCE_OWN_POSTGRES=1, so the machine's own cluster is never touched.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

CI_RUN = Path(__file__).resolve().parents[1] / ".ci" / "run"
PROBE = """
set -euo pipefail
echo "url=$WORKFLOW_APP_TEST_POSTGRES_URL"
echo "answer=$(psql -w -d postgres -tAc 'SHOW hba_file')"
python3 - <<'PY'
import os
from sqlalchemy import create_engine, text
engine = create_engine(os.environ["WORKFLOW_APP_TEST_POSTGRES_URL"])
with engine.connect() as connection:
    print("database=" + connection.execute(text("SELECT current_database()")).scalar_one())
PY
exit 5
"""


def _ci_would_install_nothing() -> bool:
    """Whether .ci/run finds everything it needs here (the test must not run apt-get)."""
    return (all(shutil.which(tool) for tool in ("make", "psql", "chromium", "chromedriver", "npm"))
            and bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
            and Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc").exists())


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.postgres
def test_ci_run_makes_a_throwaway_cluster_runs_the_command_on_a_database_of_its_own_and_removes_it():
    if not _ci_would_install_nothing():
        pytest.skip(".ci/run would install packages on this machine")
    env = {**os.environ, "CI_FORCE_OWN_POSTGRES": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    result = subprocess.run(["bash", str(CI_RUN), "bash", "-c", PROBE], env=env, text=True,
                            capture_output=True, timeout=180)

    assert result.returncode == 5, result.stderr  # the command's exit status is the run's
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    url = make_url(seen["url"])
    assert url.port != 5432 and url.database is not None and url.database.startswith("test_ci_")
    assert seen["database"] == url.database  # the URL reached the run's database
    cluster = Path(seen["answer"]).parents[1]
    assert cluster.name.startswith("ci-postgres.")
    assert not cluster.exists()  # removed at exit
    assert not _accepts(url.port or 0)  # and stopped
