"""A Maildir is the owner's mailbox: intake copies its new messages in and marks them seen in
place (new/ -> cur/ with the S flag), the way a mail client does; it never removes one."""

import mailbox
import time

import yaml

from resources.settings.config import SAMPLE_CONFIG, load_config
from sensors.intake import tick


def _config(tmp_path, maildir):
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["intake"]["maildirs"] = [str(maildir)]
    path = tmp_path / "maildir-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_config(path)


def _mail(number: int) -> bytes:
    return (
        f"From: kim@client.example\nSubject: Question {number}\n"
        f"Message-ID: <m{number}@client.example>\n\nQuestion number {number}.\n"
    ).encode()


def _contents(box: mailbox.Maildir) -> dict[str, bytes]:
    return {key: box.get_bytes(key) for key in box.iterkeys()}


def test_intake_leaves_every_message_in_the_owners_maildir(bench, tmp_path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for number in (1, 2):
        box.add(_mail(number))
    read_before = mailbox.MaildirMessage(_mail(3))
    read_before.set_subdir("cur")
    read_before.add_flag("S")  # read in the owner's client already: not new mail
    box.add(read_before)
    before = _contents(box)
    config = _config(tmp_path, tmp_path / "Maildir")

    result = tick(bench.store, bench.home, config, now=time.time() + 60)

    assert result.registered == 2
    assert sorted(i["message_id"] for i in bench.store.items()) == [
        "<m1@client.example>",
        "<m2@client.example>",
    ]
    box = mailbox.Maildir(tmp_path / "Maildir", create=False)
    assert _contents(box) == before  # every message, byte for byte, under the same key
    for key in box.iterkeys():
        message = box.get_message(key)
        assert (message.get_subdir(), "S" in message.get_flags()) == ("cur", True)
    again = tick(bench.store, bench.home, config, now=time.time() + 120)
    assert (again.registered, again.duplicates, again.batches) == (0, 0, [])
    assert len(bench.store.items()) == 2
    assert _contents(mailbox.Maildir(tmp_path / "Maildir", create=False)) == before


def test_a_message_copied_but_not_yet_marked_is_taken_once(bench, tmp_path) -> None:
    from sensors.maildir_intake import copy_new_messages

    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(_mail(1))
    config = _config(tmp_path, tmp_path / "Maildir")
    # A tick that died after copying, before marking: the copy waits in the inbox.
    copy_new_messages(bench.home, config, mark_seen=False)
    copy_new_messages(bench.home, config)
    assert len(list(bench.home.inbox.iterdir())) == 1
    result = tick(bench.store, bench.home, config, now=time.time() + 60)
    assert result.registered == 1
    (item,) = bench.store.items()
    assert item["state"] == "received"
