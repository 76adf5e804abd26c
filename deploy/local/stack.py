"""The local stack: Apache Kafka (KRaft, one node) and Redis on 127.0.0.1, no Docker needed.

    python deploy/local/stack.py up|down|status|promtool

`up` fetches Kafka's jars from Maven Central (pom.xml beside this file) when they are missing,
formats the KRaft storage once, starts the broker and a Redis of its own (installing Debian's
`redis-server` when it is missing and we are root), and waits until both really answer. It is
idempotent: what already runs is left alone. If anything fails, what this call started is
stopped again and one paragraph says what went wrong and how to fix it. `down` stops both and
leaves no process behind. Addresses come from `streams.settings` (KAFKA_BOOTSTRAP, REDIS_URL).
`promtool` puts Debian's `promtool` and `prometheus` into deploy/local/prometheus/bin (for the
tests of deploy/prometheus and deploy/grafana) unless promtool is on PATH already.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from streams.settings import Settings  # noqa: E402  (needs the repo on sys.path first)

LIBS = HERE / "kafka" / "libs"
# A second stack (another checkout, a benchmark beside the tests) needs its own data folder and
# ports: STACK_DATA_DIR plus KAFKA_BOOTSTRAP and REDIS_URL.
DATA = Path(os.environ.get("STACK_DATA_DIR", HERE / "data")).resolve()
KAFKA_DIR = DATA / "kafka"
REDIS_DIR = DATA / "redis"
KAFKA_PID = DATA / "kafka.pid"
REDIS_PID = DATA / "redis.pid"
KAFKA_HEAP = os.environ.get("KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m")
PROMETHEUS_BIN = HERE / "prometheus" / "bin"
READY_TIMEOUT = float(os.environ.get("STACK_READY_TIMEOUT", "90"))


class StackError(Exception):
    """A service could not be installed or started; the message says how to fix it."""


@dataclass(frozen=True)
class Endpoints:
    kafka_host: str
    kafka_port: int
    controller_port: int
    redis_host: str
    redis_port: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Endpoints:
        kafka_host, kafka_port = settings.kafka_endpoint()
        redis_host, redis_port = settings.redis_endpoint()
        return cls(kafka_host, kafka_port, kafka_port + 1, redis_host, redis_port)


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def stop_pid(path: Path, name: str) -> None:
    pid = read_pid(path)
    if pid is None:
        path.unlink(missing_ok=True)
        return
    say(f"stopping {name} (pid {pid})")
    for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        except PermissionError:
            os.kill(pid, sig)
        if wait_until(lambda: read_pid(path) is None or not alive(pid), wait):
            break
    path.unlink(missing_ok=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours counts as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


# --- Kafka -----------------------------------------------------------------------------------


def fetch_kafka_jars() -> None:
    if any(LIBS.glob("kafka_2.13-*.jar")):
        return
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Kafka's jars are not fetched and Maven is not installed. Install Maven and a Java 17+ "
            "runtime (Debian: `apt-get install -y maven openjdk-17-jre-headless`), then run "
            "`make up` again."
        )
    say("fetching Kafka's jars from Maven Central (first run only; cached in ~/.m2)")
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(HERE / "pom.xml"), "dependency:copy-dependencies"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(
            "Maven could not fetch Kafka's jars (deploy/local/pom.xml). Check that Maven Central "
            "is reachable and ~/.m2 is writable, then run `make up` again. Maven said:\n"
            + "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        )


def java() -> str:
    found = shutil.which("java")
    if found is None:
        raise StackError(
            "Kafka needs a Java 17+ runtime and `java` is not on PATH. Install one "
            "(Debian: `apt-get install -y openjdk-17-jre-headless`), then run `make up` again."
        )
    return found


def server_properties(ends: Endpoints) -> str:
    host = ends.kafka_host
    return f"""# Written by deploy/local/stack.py; one KRaft node, broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers={host}:{ends.controller_port}
listeners=PLAINTEXT://{host}:{ends.kafka_port},CONTROLLER://{host}:{ends.controller_port}
advertised.listeners=PLAINTEXT://{host}:{ends.kafka_port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={KAFKA_DIR / "logs"}
num.partitions=4
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=4
"""


def kafka_classpath() -> str:
    return str(LIBS / "*")


def format_storage(ends: Endpoints) -> None:
    props = KAFKA_DIR / "server.properties"
    props.write_text(server_properties(ends))
    if (KAFKA_DIR / "logs" / "meta.properties").exists():
        return
    say("formatting Kafka's KRaft storage (first run only)")
    result = subprocess.run(
        [
            java(),
            "-cp",
            kafka_classpath(),
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={KAFKA_DIR}",
            "kafka.tools.StorageTool",
            "format",
            "--config",
            str(props),
            "--cluster-id",
            new_cluster_id(),
            "--standalone",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(
            "Kafka's storage could not be formatted. Remove deploy/local/data/kafka and run "
            "`make up` again. StorageTool said:\n"
            + "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        )


def new_cluster_id(random_uuid: Callable[[], uuid.UUID] = uuid.uuid4) -> str:
    """A random KRaft cluster id that StorageTool's argument parser accepts.

    An id is a UUID in URL-safe base64, which starts with "-" once in 64 draws; the parser then
    reads it as an option and `--cluster-id` as missing. Kafka's own `Uuid.randomUuid` draws again
    in that case, and so do we.
    """
    while True:
        cluster_id = uuid_to_kafka_id(random_uuid())
        if not cluster_id.startswith("-"):
            return cluster_id


def uuid_to_kafka_id(value: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def kafka_admin_round_trip(ends: Endpoints) -> bool:
    """True when the broker answers a metadata request and can create and delete a topic."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def round_trip() -> bool:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=f"{ends.kafka_host}:{ends.kafka_port}", request_timeout_ms=5000
        )
        try:
            await admin.start()
            name = f"__stack-ready-{uuid.uuid4().hex[:8]}"
            await admin.create_topics([NewTopic(name, 1, 1)])
            await admin.delete_topics([name])
            return True
        except Exception:  # noqa: BLE001  any failure here means "not ready yet"; we retry
            return False
        finally:
            await admin.close()

    return asyncio.run(round_trip())


def start_kafka(ends: Endpoints) -> bool:
    """Start the broker unless it runs; True when this call started it."""
    if read_pid(KAFKA_PID) is not None and port_open(ends.kafka_host, ends.kafka_port):
        say(f"kafka already running on {ends.kafka_host}:{ends.kafka_port}")
        return False
    if port_open(ends.kafka_host, ends.kafka_port):
        raise StackError(
            f"Port {ends.kafka_port} on {ends.kafka_host} is taken by a process this stack did not "
            "start. Stop it, or point the stack elsewhere with "
            "KAFKA_BOOTSTRAP=127.0.0.1:<free port> (the controller uses the next port)."
        )
    fetch_kafka_jars()
    KAFKA_DIR.mkdir(parents=True, exist_ok=True)
    format_storage(ends)
    say(f"starting kafka on {ends.kafka_host}:{ends.kafka_port}")
    log = (KAFKA_DIR / "stdout.log").open("ab")
    env = {**os.environ, "KAFKA_HEAP_OPTS": KAFKA_HEAP}
    process = subprocess.Popen(
        [
            java(),
            *KAFKA_HEAP.split(),
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={HERE / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={KAFKA_DIR}",
            "-cp",
            kafka_classpath(),
            "kafka.Kafka",
            str(KAFKA_DIR / "server.properties"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    KAFKA_PID.write_text(str(process.pid))
    ready = wait_until(
        lambda: process.poll() is None and port_open(ends.kafka_host, ends.kafka_port),
        READY_TIMEOUT,
    ) and wait_until(lambda: kafka_admin_round_trip(ends), READY_TIMEOUT / 2, interval=1.0)
    if not ready:
        stop_pid(KAFKA_PID, "kafka")
        raise StackError(
            f"Kafka did not become ready within {READY_TIMEOUT:.0f}s on "
            f"{ends.kafka_host}:{ends.kafka_port}. The tail of its log "
            f"(deploy/local/data/kafka/server.log):\n{tail(KAFKA_DIR / 'server.log')}\n"
            f"{tail(KAFKA_DIR / 'stdout.log', 10)}"
        )
    return True


# --- Redis -----------------------------------------------------------------------------------


def redis_server() -> str:
    found = shutil.which("redis-server")
    if found is not None:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing Debian's redis-server (it is missing and we are root)")
        for command in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "redis-server"],
        ):
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
            if result.returncode != 0:
                raise StackError(
                    "Installing redis-server with apt-get failed. Install Redis 7 by hand "
                    "(Debian: `apt-get install -y redis-server`), then run `make up` again. "
                    "apt-get said:\n" + "\n".join(result.stderr.splitlines()[-10:])
                )
        found = shutil.which("redis-server")
    if found is None:
        raise StackError(
            "redis-server is not installed. Install Redis 7 (Debian/Ubuntu: "
            "`sudo apt-get install -y redis-server`; macOS: `brew install redis`), then run "
            "`make up` again."
        )
    return found


def redis_ping(ends: Endpoints) -> bool:
    try:
        with socket.create_connection((ends.redis_host, ends.redis_port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(ends: Endpoints) -> bool:
    """Start Redis unless it runs; True when this call started it."""
    if read_pid(REDIS_PID) is not None and redis_ping(ends):
        say(f"redis already running on {ends.redis_host}:{ends.redis_port}")
        return False
    if port_open(ends.redis_host, ends.redis_port):
        raise StackError(
            f"Port {ends.redis_port} on {ends.redis_host} is taken by a process this stack did not "
            "start. Stop it, or point the stack elsewhere with "
            "REDIS_URL=redis://127.0.0.1:<free port>/0."
        )
    binary = redis_server()
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    config = REDIS_DIR / "redis.conf"
    config.write_text(
        "# Written by deploy/local/stack.py\n"
        f"bind {ends.redis_host}\n"
        f"port {ends.redis_port}\n"
        "protected-mode yes\n"
        "daemonize no\n"
        f"dir {REDIS_DIR}\n"
        "appendonly yes\n"
        "appendfsync everysec\n"
        'save ""\n'
        f"logfile {REDIS_DIR / 'redis.log'}\n"
        "maxmemory-policy noeviction\n"
        # An account hash holds ~25 records of ~400 B, more for accounts with many events in
        # their dedupe window: as a listpack, not a hashtable, each account costs ~90 B besides
        # its values (docs/redis-layout.md).
        "hash-max-listpack-value 4096\n"
        # The due and ranking sets' buckets hold ~100 accounts at 25,000 per partition: up to 256
        # they stay listpacks too, ~30 B an entry against ~85 as a skiplist.
        "zset-max-listpack-entries 256\n"
    )
    say(f"starting redis on {ends.redis_host}:{ends.redis_port}")
    process = subprocess.Popen(
        [binary, str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    REDIS_PID.write_text(str(process.pid))
    if not wait_until(lambda: process.poll() is None and redis_ping(ends), 20.0):
        stop_pid(REDIS_PID, "redis")
        raise StackError(
            f"Redis did not answer PING within 20s on {ends.redis_host}:{ends.redis_port}. The "
            f"tail of its log (deploy/local/data/redis/redis.log):\n{tail(REDIS_DIR / 'redis.log')}"
        )
    return True


# --- promtool --------------------------------------------------------------------------------


def promtool() -> str:
    """The path of a promtool, fetched from Debian's `prometheus` package when there is none.

    The package is unpacked, not installed: installing it would start a Prometheus service on
    :9090, and the tests need only the two binaries (static Go programs)."""
    found = shutil.which("promtool") or shutil.which("promtool", path=str(PROMETHEUS_BIN))
    if found is not None:
        return found
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise StackError(
            "promtool is not installed. Install Prometheus 2 (Debian/Ubuntu: "
            "`sudo apt-get install -y prometheus`; macOS: `brew install prometheus`), "
            "or run `make promtool` on Debian."
        )
    say("fetching promtool from Debian's prometheus package (unpacked, no service)")
    with tempfile.TemporaryDirectory() as scratch:
        download = ["apt-get", "download", "-qq", "prometheus"]
        result = _apt(download, scratch)
        if result.returncode != 0 and os.geteuid() == 0:
            # A fresh machine has no package lists yet.
            _apt(["apt-get", "update", "-qq"], scratch)
            result = _apt(download, scratch)
        debs = sorted(Path(scratch).glob("prometheus_*.deb"))
        if result.returncode != 0 or not debs:
            raise StackError(
                "Fetching Debian's prometheus package failed. Install it by hand "
                "(`sudo apt-get install -y prometheus`), then run `make promtool` again. "
                "apt-get said:\n" + "\n".join(result.stderr.splitlines()[-10:])
            )
        unpacked = Path(scratch) / "root"
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(unpacked)], check=True)
        PROMETHEUS_BIN.mkdir(parents=True, exist_ok=True)
        for name in ("promtool", "prometheus"):
            shutil.copy2(unpacked / "usr" / "bin" / name, PROMETHEUS_BIN / name)
    return str(PROMETHEUS_BIN / "promtool")


def _apt(command: list[str], cwd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def install_promtool(_: Endpoints) -> int:
    try:
        promtool()
    except StackError as err:
        print(f"\nmake promtool failed: {err}\n", file=sys.stderr)
        return 1
    return 0


# --- commands --------------------------------------------------------------------------------


def up(ends: Endpoints) -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    started: list[tuple[Path, str]] = []
    try:
        if start_redis(ends):
            started.append((REDIS_PID, "redis"))
        if start_kafka(ends):
            started.append((KAFKA_PID, "kafka"))
    except StackError as err:
        # Nothing half-running: a failed start stopped itself, and we stop what this call started.
        for pid_file, name in reversed(started):
            stop_pid(pid_file, name)
        print(f"\nmake up failed: {err}\n", file=sys.stderr)
        return 1
    return status(ends)


def down(_: Endpoints) -> int:
    stop_pid(KAFKA_PID, "kafka")
    stop_pid(REDIS_PID, "redis")
    say("stopped")
    return 0


def status(ends: Endpoints) -> int:
    kafka_up = read_pid(KAFKA_PID) is not None and port_open(ends.kafka_host, ends.kafka_port)
    redis_up = redis_ping(ends)
    for name, is_up, host, port, variable in (
        ("kafka", kafka_up, ends.kafka_host, ends.kafka_port, "KAFKA_BOOTSTRAP"),
        ("redis", redis_up, ends.redis_host, ends.redis_port, "REDIS_URL"),
    ):
        print(f"{name}  {'up  ' if is_up else 'DOWN'}  {host}:{port}  ({variable})")
    return 0 if kafka_up and redis_up else 1


def main(argv: list[str]) -> int:
    commands = {"up": up, "down": down, "status": status, "promtool": install_promtool}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: stack.py up|down|status|promtool", file=sys.stderr)
        return 2
    return commands[argv[0]](Endpoints.from_settings(Settings()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
