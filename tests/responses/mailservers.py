"""Real mail servers for the inbound tests: Debian's Dovecot and Postfix, started by the test.

Each server runs from a throwaway configuration in a scratch folder of its own (its own base or
queue directory, no system configuration), listens only on 127.0.0.1 on a free port, and is
stopped at teardown even when the test fails. Without the binaries the tests are skipped with a
reason naming the Debian package, unless APPEALS_TEST_MAILSERVERS=required (CI sets it), which
turns that into a failure.

The servers' unprivileged processes (Dovecot's mail and auth processes, Postfix's pipe) cannot
enter pytest's tmp_path (its parent is private to the user running the tests), so the scratch
folder is a fresh one under the system's temporary directory that everybody may traverse.
"""

from __future__ import annotations

import contextlib
import datetime
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REQUIRED = os.environ.get("APPEALS_TEST_MAILSERVERS", "").lower() == "required"
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
START_TIMEOUT = 30.0


def require_binary(name: str, package: str) -> str:
    """The path of a server's binary; skip (or, in CI, fail) when it is not installed."""
    path = shutil.which(name, path=SBIN_PATH)
    if path is None:
        message = f"{name} is not installed (apt-get install {package})"
        if REQUIRED:
            pytest.fail(message + " and APPEALS_TEST_MAILSERVERS=required")
        pytest.skip(message)
    return path


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        message = f"{why} needs root"
        if REQUIRED:
            pytest.fail(message + " and APPEALS_TEST_MAILSERVERS=required")
        pytest.skip(message)


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free at the time of asking."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def wait_until(what: str, ready: Callable[[], bool], *, timeout: float, log: Path) -> None:
    """Poll `ready` until it holds; past `timeout`, fail showing the server's log."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            shown = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
            raise AssertionError(f"{what} within {timeout:.0f}s; the log says:\n{shown}")
        time.sleep(0.1)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder the servers' unprivileged processes can reach, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="appeals-mail-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def unprivileged_user() -> pwd.struct_passwd:
    """Whom the servers' mail processes run as: `nobody` under root, else the test's user."""
    return pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())


def give_to(user: pwd.struct_passwd, *paths: Path) -> None:
    if os.geteuid() == 0:
        for path in paths:
            os.chown(path, user.pw_uid, user.pw_gid)


@dataclass(frozen=True)
class Tls:
    """A throwaway CA and a server certificate it signed for 127.0.0.1 and localhost."""

    ca: Path
    cert: Path
    key: Path


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Certificate | None,
    signer: ec.EllipticCurvePrivateKey,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(signer, hashes.SHA256())


def make_tls(folder: Path) -> Tls:
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    signs = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    ca = _certificate(
        "Appeals test CA",
        ca_key,
        issuer=None,
        signer=ca_key,
        extensions=[(x509.BasicConstraints(ca=True, path_length=0), True), (signs, True)],
    )
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = _certificate(
        "localhost",
        key,
        issuer=ca,
        signer=ca_key,
        extensions=[
            (x509.SubjectAlternativeName(names), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ],
    )
    tls = Tls(ca=folder / "ca.pem", cert=folder / "server.pem", key=folder / "server.key")
    tls.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    tls.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tls


class _OwnClient(imaplib.IMAP4):
    """The test's own IMAP client, from 127.0.0.2: after a failed login from an address,
    Dovecot slows down the next ones from there (its auth penalty), and the poller's failures
    should not slow down the test's checks."""

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return socket.create_connection(
            (self.host, self.port), timeout, source_address=("127.0.0.2", 0)
        )


@dataclass
class Dovecot:
    """A running Dovecot with one mailbox user; the test's own IMAP access to that mailbox."""

    imap_port: int
    imaps_port: int
    tls: Tls
    log: Path
    user: str = "inbound"
    password: str = "throwaway-imap-password"

    def session(self) -> imaplib.IMAP4:
        client = _OwnClient("127.0.0.1", self.imap_port, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, *messages: bytes) -> None:
        client = self.session()
        try:
            for raw in messages:
                status, data = client.append("INBOX", None, None, raw)
                assert status == "OK", data
        finally:
            client.logout()

    def messages(self, folder: str) -> list[bytes]:
        """The messages in `folder` ([] if it does not exist), oldest first."""
        client = self.session()
        try:
            status, _ = client.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, found = client.uid("SEARCH", "ALL")
            raws: list[bytes] = []
            for uid in (found[0] or b"").split():
                _, data = client.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                raws += [item[1] for item in data if isinstance(item, tuple)]
            return raws
        finally:
            client.logout()


def dovecot_config(folder: Path, *, imap_port: int, imaps_port: int, tls: Tls) -> str:
    """A complete dovecot.conf: nothing is read from /etc/dovecot."""
    me = unprivileged_user()
    rootless = ""
    if os.geteuid() != 0:  # Dovecot's rootless mode: its own user for everything, no chroot
        rootless = (
            f"default_internal_user = {me.pw_name}\n"
            f"default_internal_group = {grp.getgrgid(me.pw_gid).gr_name}\n"
            f"default_login_user = {me.pw_name}\n"
            "service anvil {\n  chroot =\n}\n"
            "service imap-login {\n  chroot =\n}\n"
        )
    return f"""\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{tls.cert}
ssl_key = <{tls.key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {me.pw_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {folder}/users
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
{rootless}"""


def _greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


@pytest.fixture
def dovecot(scratch: Path) -> Iterator[Dovecot]:
    """Dovecot in the foreground on two free loopback ports (IMAP with STARTTLS, and IMAPS)."""
    binary = require_binary("dovecot", "dovecot-imapd")
    folder = scratch / "dovecot"
    mail = folder / "mail"
    for path in (folder, folder / "run", folder / "state", mail):
        path.mkdir()
    me = unprivileged_user()
    give_to(me, mail)
    imap_port, imaps_port = free_ports(2)
    server = Dovecot(
        imap_port=imap_port,
        imaps_port=imaps_port,
        tls=make_tls(folder),
        log=folder / "dovecot.log",
    )
    (folder / "users").write_text(
        f"{server.user}:{{PLAIN}}{server.password}:{me.pw_uid}:{me.pw_gid}::{mail}/{server.user}::\n"
    )
    config = folder / "dovecot.conf"
    config.write_text(
        dovecot_config(
            folder, imap_port=server.imap_port, imaps_port=server.imaps_port, tls=server.tls
        )
    )
    with (folder / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            [binary, "-F", "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    try:
        wait_until(
            "Dovecot did not greet on 127.0.0.1",
            lambda: process.poll() is None and _greets(server.imap_port),
            timeout=START_TIMEOUT,
            log=folder / "stderr.log",
        )
        yield server
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the master stops its children), then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
myhostname = mx.appeals-test.invalid
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
alias_maps =
alias_database =
relay_domains = {domain}
transport_maps = inline:{{ {domain}=appeals: }}
appeals_destination_recipient_limit = 1
maillog_file = {folder}/maillog
maillog_file_prefixes = {folder}
"""

# The services a queue manager needs, none chrooted; the SMTP server on the test's port; and the
# pipe into `appeals inbound eml` (flags=R prepends Return-Path; q quotes the address for argv).
POSTFIX_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
appeals   unix - n n - - pipe
  flags=Rq user={user} argv={argv} inbound eml --envelope-to ${{recipient}} -
"""


@dataclass
class Postfix:
    """A Postfix instance of the test's: its configuration folder, SMTP port, pipe and log."""

    binary: str
    config: Path
    port: int
    pipe_user: str
    maillog: Path

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pipe_into(self, argv: str) -> None:
        """Write master.cf with the pipe running `argv`; a running instance reloads it."""
        (self.config / "master.cf").write_text(
            POSTFIX_MASTER_CF.format(port=self.port, user=self.pipe_user, argv=argv)
        )
        if self.master_pid() is not None:
            self.must("reload")

    def flush(self) -> None:
        """Try the deferred mail again now (`postqueue -f`)."""
        done = subprocess.run(
            [str(Path(self.binary).with_name("postqueue")), "-c", str(self.config), "-f"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def must(self, *args: str) -> None:
        done = self.command(*args)
        if done.returncode != 0:
            logged = self.maillog.read_text() if self.maillog.exists() else ""
            raise AssertionError(
                f"postfix {' '.join(args)} failed: {done.stdout}{done.stderr}{logged}"
            )

    def master_pid(self) -> int | None:
        pid_file = self.config.parent / "queue" / "pid" / "master.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def stop(self) -> None:
        """`postfix stop`; the master killed if it has not gone within 15 s."""
        pid = self.master_pid()
        if pid is None:
            return
        self.command("stop")
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            self.command("abort")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: it only waits to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


PostfixStarter = Callable[..., Postfix]


@pytest.fixture
def postfix(scratch: Path) -> Iterator[PostfixStarter]:
    """Starts a Postfix instance (`postfix -c DIR start`) whose pipe runs `argv` as `user`
    for mail to `domain`; stops it at teardown, killing its master if `stop` does not."""
    binary = require_binary("postfix", "postfix")
    require_root("Postfix's master process")
    started: list[Postfix] = []

    def start(*, argv: str, user: str, domain: str) -> Postfix:
        folder = scratch / "postfix"
        (folder / "config").mkdir(parents=True)
        (folder / "queue").mkdir()  # Postfix makes its subfolders, with their owners
        (folder / "data").mkdir()
        postfix_user = pwd.getpwnam("postfix")
        os.chown(folder / "data", postfix_user.pw_uid, postfix_user.pw_gid)
        server = Postfix(
            binary=binary,
            config=folder / "config",
            port=free_ports(1)[0],
            pipe_user=user,
            maillog=folder / "maillog",
        )
        (server.config / "main.cf").write_text(POSTFIX_MAIN_CF.format(folder=folder, domain=domain))
        server.pipe_into(argv)
        started.append(server)
        server.must("start")
        wait_until(
            "Postfix did not answer on 127.0.0.1",
            lambda: _answers_smtp(server.port),
            timeout=START_TIMEOUT,
            log=server.maillog,
        )
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def _answers_smtp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(64).startswith(b"220")
    except OSError:
        return False
