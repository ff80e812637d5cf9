"""A real IMAP server for tests: Dovecot on 127.0.0.1, configured in a temporary folder and
run in the foreground (`dovecot -F`), stopped at the end. scripts/setup-system.sh installs it.

One user (`owner` / `secret`), Maildir under the folder, no TLS, plaintext login allowed:
nothing of it is reachable from another machine."""

import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "owner"
PASSWORD = "secret"

_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {root}/state
instance_name = opsbench-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
first_valid_uid = 1
# (the default, 500, refuses the system user "dovecot" the mail processes run as under root)
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_login_user = {login_user}
default_internal_group = {internal_group}
mail_location = maildir:{run}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {run}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={run}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0600
  }}
  unix_listener stats-writer {{
    mode = 0600
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """`with Dovecot(tmp_path / "imap") as server:` a server with an empty INBOX."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._run: Path | None = None

    def __enter__(self) -> "Dovecot":
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        (self.root / "state").mkdir(parents=True, exist_ok=True)
        # Sockets want a short path, and the login processes (never root) must reach them:
        # a world-traversable folder of its own, not under pytest's private tmp_path.
        self._run = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self._run.chmod(0o755)
        users = self._run / "users"
        users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        users.chmod(0o644)
        import grp
        import pwd

        who = pwd.getpwuid(os.getuid())
        # Run as root (CI containers), Dovecot wants unprivileged users for the logins and
        # the mail processes: those its package creates.
        internal, login = ("dovecot", "dovenull") if who.pw_uid == 0 else (who.pw_name,) * 2
        mail_user = pwd.getpwnam(internal)
        for sub in ("mail", "home"):
            (self._run / sub).mkdir()
            os.chown(self._run / sub, mail_user.pw_uid, mail_user.pw_gid)
        conf = self.root / "dovecot.conf"
        conf.write_text(
            _CONF.format(
                root=self.root,
                run=self._run,
                port=self.port,
                uid=mail_user.pw_uid,
                gid=mail_user.pw_gid,
                internal_user=internal,
                login_user=login,
                internal_group=grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name,
            )
        )
        self._process = subprocess.Popen(
            [binary, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = self._log()
                self.__exit__()
                raise RuntimeError(f"dovecot exited: {log}")
            try:
                with self.client():
                    return self
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.05)
        log = self._log()
        self.__exit__()
        raise RuntimeError(f"dovecot did not answer: {log}")

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(10)
        if self._run is not None:
            shutil.rmtree(self._run, ignore_errors=True)

    def _log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text()[-4000:] if path.exists() else "(no log)"

    def client(self) -> imaplib.IMAP4:
        """A logged-in imaplib client (a context manager: it logs out at the end)."""
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=5)
        try:
            client.login(USER, PASSWORD)
        except BaseException:
            client.shutdown()
            raise
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            typ, data = client.append(folder, "", None, raw)
            assert typ == "OK", data

    def flags(self, folder: str = "INBOX") -> dict[str, str]:
        """Message-ID header value -> the message's flags, for every message in `folder`."""
        found = {}
        with self.client() as client:
            client.select(folder, readonly=True)
            typ, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            assert typ == "OK", data
            for part in data:
                if isinstance(part, tuple):
                    meta, header = part
                    message_id = header.decode().split(":", 1)[-1].strip()
                    found[message_id] = meta.decode()
        return found

    def recreate(self, folder: str) -> None:
        """Delete and create `folder` again: the server gives it a new UIDVALIDITY."""
        with self.client() as client:
            typ, data = client.delete(folder)
            assert typ == "OK", data
            typ, data = client.create(folder)
            assert typ == "OK", data

    def create(self, folder: str) -> None:
        with self.client() as client:
            typ, data = client.create(folder)
            assert typ == "OK", data


def message(number: int, sender: str = "kim@client.example") -> bytes:
    return (
        f"From: Kim <{sender}>\r\nTo: owner@example.test\r\nSubject: Question {number}\r\n"
        f"Message-ID: <q{number}@client.example>\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:0{number % 10} +0000\r\n\r\n"
        f"Hello, this is question number {number}.\r\n"
    ).encode()


PASSWORD_ENV = "OPSBENCH_TEST_IMAP_PASSWORD"


def imap_config(tmp_path: Path, port: int, **account: object) -> Path:
    """The sample config with one IMAP account on this server (password from PASSWORD_ENV)."""
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["intake"]["imap"] = [
        {
            "name": "work",
            "host": "127.0.0.1",
            "port": port,
            "tls": "none",
            "user": USER,
            "password_env": PASSWORD_ENV,
            **account,
        }
    ]
    path = tmp_path / "imap-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
