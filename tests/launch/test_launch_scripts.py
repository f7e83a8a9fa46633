"""The launch scripts, run with --dry-run (and with fake ssh/scp/gcloud): the commands they print
carry the pinned jax wheel, the apt packages, the commit of HEAD, every worker and the job's
config, workdir and flags; bad arguments are one line and a non-zero exit."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).parents[2]
PINNED = re.search(r"^jax==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE).group(1)
APT = ["espeak-ng", "sox", "libtcmalloc-minimal4"]
JOB = ["configs/demo.py:size=S", "/mnt/shared/runs/demo", "--config.data.buckets=(384, 768)",
       "--config.data.data_dir=/mnt/shared/data"]
SLURM = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu[03-04,07]", "SLURM_NTASKS": "3"}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> tuple[Path, str]:
    """A git checkout holding this tree's launch scripts, requirements and configs: (root, HEAD)."""
    root = tmp_path / "repo"
    for name in ("launch", "configs"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("requirements.txt", "requirements-export.txt"):
        shutil.copy(REPO / name, root / name)
    _git(root.parent, "init", "-q", str(root))
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "snapshot")
    return root, _git(root, "rev-parse", "HEAD")


@pytest.fixture
def fakes(tmp_path) -> tuple[dict, Path]:
    """An environment whose gcloud, ssh, scp and srun only append their arguments to a log: (env, log)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for tool in ("gcloud", "ssh", "scp", "srun"):
        fake = bin_dir / tool
        fake.write_text(f"#!/usr/bin/env bash\n{{ printf '%q ' {tool} \"$@\"; echo; }} >> {log}\n[[ $* != *FAIL* ]]\n")
        fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "TPU_NAME", "ZONE", "PROJECT"))}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return env, log


def _script(root: Path, name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(root / "launch" / name), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def _commands(result: subprocess.CompletedProcess) -> list[list[str]]:
    """Each printed line as the words a shell would run ('&' dropped)."""
    assert result.returncode == 0, result.stderr
    return [shlex.split(line.removesuffix(" &")) for line in result.stdout.splitlines()]


def _remote(argv: list[str]) -> list[str]:
    """The words of the remote command of an ssh/gcloud line (after --command, or ssh's last word)."""
    command = argv[argv.index("--command") + 1] if "--command" in argv else argv[-1]
    return shlex.split(command)


def test_tpu_vm_dry_run_prints_every_step_for_all_workers(repo, fakes):
    root, head = repo
    env, log = fakes
    archive = f"/tmp/speecheq_jax-{head}.tar.gz"
    archive_cmd, scp, setup, job = _commands(
        _script(root, "tpu_vm.sh", "--dry-run", "--tpu", "pod", "--zone", "us-west4-a", "--project", "p", *JOB, env=env))
    assert archive_cmd == ["git", "archive", "--format=tar.gz", "-o", archive, head]
    assert scp[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "scp"] and scp[5:7] == [archive, f"pod:{archive}"]
    for line in (scp, setup, job):
        assert {"--worker=all", "--zone=us-west4-a", "--project=p"} <= set(line)
    remote = _remote(setup)
    assert f"jax[tpu]=={PINNED}" in remote and remote[remote.index("--apt") + 1].split() == APT
    assert f"speecheq_jax/{head}/launch/setup_worker.sh" in remote and archive in remote
    remote = _remote(job)
    assert remote[:3] == ["cd", f"speecheq_jax/{head}", "&&"] and remote[3].startswith("JAX_COORDINATOR_ADDRESS=")
    assert remote[4:] == ["../venv/bin/python", "-m", "speecheq_jax.main", "--config", JOB[0], "--workdir", JOB[1],
                          *JOB[2:]]
    assert not log.exists()  # nothing was run


@pytest.mark.parametrize("endpoints, coordinator", [
    ("t1v-n-1-w-0:0:10.0.0.5,t1v-n-1-w-1:1:10.0.0.6", "10.0.0.5:8476"),  # name:id:ip
    ("t1v-n-1-w-0,t1v-n-1-w-1", "t1v-n-1-w-0:8476"),                      # host names
])
def test_tpu_vm_job_coordinates_on_worker_0(repo, fakes, tmp_path, endpoints, coordinator):
    """The job command, run by a worker's shell: worker 0 of the metadata server's list coordinates."""
    root, head = repo
    env, _ = fakes
    job = _commands(_script(root, "tpu_vm.sh", "--dry-run", "--tpu", "t", "--zone", "z", *JOB, env=env))[-1]
    home = tmp_path / "worker"
    (home / "speecheq_jax" / head).mkdir(parents=True)
    (home / "speecheq_jax" / "venv" / "bin").mkdir(parents=True)
    for name, body in (("speecheq_jax/venv/bin/python", 'printf "%q " "$JAX_COORDINATOR_ADDRESS" "$@"'),
                       ("bin/curl", f'[[ $* == *worker-network-endpoints ]] && echo "{endpoints}"')):
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (home / name).chmod(0o755)
    worker_env = {**env, "PATH": f"{home / 'bin'}:{env['PATH']}"}
    ran = subprocess.run(["bash", "-c", job[job.index("--command") + 1]], cwd=home, env=worker_env,
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert shlex.split(ran.stdout) == [coordinator, "-m", "speecheq_jax.main", "--config", JOB[0], "--workdir",
                                       JOB[1], *JOB[2:]]


def test_tpu_vm_takes_its_names_from_the_environment_and_can_skip_apt(repo, fakes):
    root, _ = repo
    env, _ = fakes
    lines = _commands(_script(root, "tpu_vm.sh", "--dry-run", "--no-apt", *JOB,
                              env={**env, "TPU_NAME": "v5e", "ZONE": "z1"}))
    assert lines[2][5] == "v5e" and "--zone=z1" in lines[2] and "--apt" not in _remote(lines[2])


def test_tpu_vm_runs_the_printed_commands(repo, fakes, tmp_path):
    root, head = repo
    env, log = fakes
    dry = _script(root, "tpu_vm.sh", "--dry-run", "--tpu", "pod", "--zone", "z", *JOB, env=env)
    real = _script(root, "tpu_vm.sh", "--tpu", "pod", "--zone", "z", *JOB, env=env)
    assert real.returncode == 0, real.stderr
    archive = Path(f"/tmp/speecheq_jax-{head}.tar.gz")
    try:
        listing = subprocess.run(["tar", "-tzf", str(archive)], capture_output=True, text=True, check=True).stdout
        assert "launch/setup_worker.sh" in listing.split()
    finally:
        archive.unlink()
    assert [shlex.split(line) for line in log.read_text().splitlines()] == _commands(dry)[1:]


def test_gpu_multinode_dry_run_starts_one_process_per_host(repo, fakes):
    root, head = repo
    env, log = fakes
    result = _script(root, "gpu_multinode.sh", "--dry-run", "--hosts", "me@gpu1,gpu2", "--port", "2345", *JOB, env=env)
    lines = result.stdout.splitlines()
    assert lines[3] == lines[6] == lines[9] == "wait"
    commands = _commands(result)
    assert commands[0][-1] == head
    assert [c[:3] for c in commands[1:3]] == [["scp", "-q", f"/tmp/speecheq_jax-{head}.tar.gz"]] * 2
    for host, setup in zip(("me@gpu1", "gpu2"), commands[4:6]):
        assert setup[:2] == ["ssh", host]
        remote = _remote(setup)
        assert f"jax[cuda12]=={PINNED}" in remote and remote[remote.index("--apt") + 1].split() == APT
    for i, (host, job) in enumerate(zip(("me@gpu1", "gpu2"), commands[7:9])):
        assert job[:2] == ["ssh", host]
        remote = _remote(job)
        assert remote[:6] == ["cd", f"speecheq_jax/{head}", "&&", "JAX_COORDINATOR_ADDRESS=gpu1:2345",
                              "JAX_NUM_PROCESSES=2", f"JAX_PROCESS_ID={i}"]
        assert remote[6:] == ["../venv/bin/python", "-m", "speecheq_jax.main", "--config", JOB[0],
                              "--workdir", JOB[1], *JOB[2:]]
    assert not log.exists()


def test_gpu_multinode_cuda13_and_no_apt(repo, fakes):
    root, _ = repo
    env, _ = fakes
    commands = _commands(_script(root, "gpu_multinode.sh", "--dry-run", "--cuda", "13", "--no-apt", "--hosts", "a",
                                 *JOB, env=env))
    setup = _remote(commands[3])
    assert f"jax[cuda13]=={PINNED}" in setup and "--apt" not in setup


def test_gpu_multinode_runs_the_printed_commands(repo, fakes):
    root, head = repo
    env, log = fakes
    args = ["--hosts", "gpu1,gpu2,gpu3", *JOB]
    dry = _commands(_script(root, "gpu_multinode.sh", "--dry-run", *args, env=env))
    real = _script(root, "gpu_multinode.sh", *args, env=env)
    Path(f"/tmp/speecheq_jax-{head}.tar.gz").unlink()
    assert real.returncode == 0, real.stderr
    ran = [shlex.split(line) for line in log.read_text().splitlines()]
    assert sorted(ran) == sorted(c for c in dry[1:] if c != ["wait"])  # the same commands, each step's in any order
    # Every copy ends before a setup starts, every setup before a job.
    assert [c[0] for c in ran] == ["scp"] * 3 + ["ssh"] * 6
    assert all("setup_worker.sh" in c[-1] for c in ran[3:6]) and all("speecheq_jax.main" in c[-1] for c in ran[6:])


def test_gpu_multinode_fails_when_a_host_fails(repo, fakes):
    root, head = repo
    env, log = fakes
    result = _script(root, "gpu_multinode.sh", "--hosts", "gpu1,FAIL2", *JOB, env=env)
    Path(f"/tmp/speecheq_jax-{head}.tar.gz").unlink()
    assert result.returncode != 0
    assert not any(line.startswith("ssh") for line in log.read_text().splitlines())  # stopped after the copies


def test_slurm_dry_run_coordinates_on_the_first_node(repo, fakes):
    root, head = repo
    env, log = fakes
    home = root.parent / "home"
    commands = _commands(_script(root, "slurm_gpu.sbatch", "--dry-run", *JOB,
                                 env={**env, **SLURM, "SLURM_SUBMIT_DIR": str(root), "SPEECHEQ_HOME": str(home)}))
    mkdir, unpack, setup, srun = commands
    assert mkdir == ["mkdir", "-p", f"{home}/{head}"]
    assert shlex.split(unpack[2])[:4] == ["git", "archive", "--format=tar", head]
    assert setup == ["bash", f"{home}/{head}/launch/setup_worker.sh", "--venv", f"{home}/venv-cuda12",
                     "--python", "python3", "--wheel", f"jax[cuda12]=={PINNED}"]
    assert srun[:5] == ["srun", "--ntasks=3", "--kill-on-bad-exit=1", f"--chdir={home}/{head}",
                        "--export=ALL,JAX_COORDINATOR_ADDRESS=gpu03:12242,JAX_NUM_PROCESSES=3"]
    assert srun[5:9] == ["bash", "-c", 'export JAX_PROCESS_ID=$SLURM_PROCID; exec "$@"', "task"]
    assert srun[9:] == [f"{home}/venv-cuda12/bin/python", "-m", "speecheq_jax.main", "--config", JOB[0],
                        "--workdir", JOB[1], *JOB[2:]]
    assert not log.exists()


def test_setup_worker_dry_run_installs_packages_and_the_wheel(repo, tmp_path):
    root, _ = repo
    commands = _commands(_script(root, "setup_worker.sh", "--dry-run", "--venv", str(tmp_path / "venv"),
                                 "--wheel", f"jax[tpu]=={PINNED}", "--apt", " ".join(APT)))
    installs = [c for c in commands if "install" in c]
    assert [*APT, "python3", "python3-venv"] == installs[0][installs[0].index("-qq") + 1:]
    assert commands[-4][:4] == ["python3", "-m", "venv", "--clear"] and commands[-4][-1] == str(tmp_path / "venv")
    assert commands[-2][-3:] == ["-r", "requirements.txt", f"jax[tpu]=={PINNED}"]


def test_setup_worker_keeps_an_up_to_date_venv(repo, tmp_path):
    """A venv made for the same requirements and wheel is kept: nothing is installed (no pip here to call)."""
    root, _ = repo
    venv, wheel = tmp_path / "venv", f"jax[cuda12]=={PINNED}"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(shutil.which("python3"))
    requirements = (root / "requirements.txt").read_text() + (root / "requirements-export.txt").read_text()
    (venv / ".requirements").write_text(requirements + wheel)
    result = _script(root, "setup_worker.sh", "--venv", str(venv), "--wheel", wheel)
    assert result.returncode == 0 and result.stdout == "", result.stderr


@pytest.mark.parametrize("script, args, message", [
    ("tpu_vm.sh", ["--zone", "z", *JOB], "--tpu (or TPU_NAME) is required"),
    ("tpu_vm.sh", ["--tpu", "t", *JOB], "--zone (or ZONE) is required"),
    ("tpu_vm.sh", ["--tpu", "t", "--zone", "z", "--bogus", *JOB], "unknown option --bogus"),
    ("tpu_vm.sh", ["--tpu", "t", "--zone", "z", JOB[0]], "CONFIG and WORKDIR are required"),
    ("tpu_vm.sh", ["--tpu", "t", "--zone", "z", "configs/nope.py", "w"], "no config file configs/nope.py"),
    ("tpu_vm.sh", ["--tpu", "t", "--zone", "z", *JOB[:2], "stray"], "unexpected argument stray"),
    ("tpu_vm.sh", ["--tpu", "--zone", "z", *JOB], "--tpu needs a value"),
    ("gpu_multinode.sh", JOB, "--hosts is required"),
    ("gpu_multinode.sh", ["--hosts", "a", "--cuda", "11", *JOB], "--cuda is 12 or 13, not 11"),
    ("gpu_multinode.sh", ["--hosts", "a", "--port", "x", *JOB], "--port is a number, not x"),
    ("slurm_gpu.sbatch", JOB, "SLURM_JOB_ID is not set: submit with sbatch"),
    ("setup_worker.sh", ["--wheel", f"jax[tpu]=={PINNED}"], "--venv is required"),
    ("setup_worker.sh", ["--venv", "v"], "--wheel is required"),
])
def test_bad_arguments_are_one_line_of_usage(repo, fakes, script, args, message):
    root, _ = repo
    env, log = fakes
    result = _script(root, script, "--dry-run", *args, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"launch/{script}: {message}")
    assert f"; usage: {'sbatch ' if script.endswith('.sbatch') else ''}launch/{script} [--dry-run]" in result.stderr
    assert not log.exists()


@pytest.mark.parametrize("script, args", [
    ("tpu_vm.sh", ["--tpu", "t", "--zone", "z"]), ("gpu_multinode.sh", ["--hosts", "a,b"]), ("slurm_gpu.sbatch", []),
])
def test_dirty_tree_is_refused_unless_allowed(repo, fakes, script, args):
    root, head = repo
    env, _ = fakes
    env = {**env, **SLURM, "SLURM_SUBMIT_DIR": str(root)}
    (root / "configs" / "demo.py").write_text("# edited\n")
    (root / "configs" / "new.py").write_text("# untracked\n")
    refused = _script(root, script, "--dry-run", *args, *JOB, env=env)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (f"launch/{script}: the working tree has uncommitted changes (configs/demo.py,"
                              "configs/new.py): commit them, or pass --allow-dirty to ship them\n")
    allowed = _script(root, script, "--dry-run", "--allow-dirty", *args, *JOB, env=env)
    shipped = re.search(r"as ([0-9a-f]{40})$", allowed.stderr.strip()).group(1)
    assert shipped != head and shipped in allowed.stdout and head not in allowed.stdout
    assert _git(root, "show", f"{shipped}:configs/demo.py") == "# edited"
    assert _git(root, "show", f"{shipped}:configs/new.py") == "# untracked"
    assert _git(root, "status", "--porcelain") == "M configs/demo.py\n?? configs/new.py"  # index untouched


@pytest.mark.parametrize("where", ["workdir", "flag"])
def test_gs_paths_reach_the_job(repo, fakes, where):
    root, _ = repo
    env, _ = fakes
    path = "gs://b/run" if where == "workdir" else "--config.data.data_dir=gs://b/data"
    job = [JOB[0], path] if where == "workdir" else [*JOB[:2], path]
    result = _script(root, "tpu_vm.sh", "--dry-run", "--tpu", "t", "--zone", "z", *job, env=env)
    assert result.returncode == 0, result.stderr
    assert path in result.stdout.splitlines()[-1]  # the job's command line
