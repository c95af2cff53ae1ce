"""mbox, Maildir and .eml into raw: headers, threads, encodings, rejects, incremental reruns."""

from __future__ import annotations

import os
from datetime import datetime

import pytest

from revwh.extract.activity import extract_mail
from revwh.extract.activity.mail import SourceUnreadable
from revwh.raw.landing import RejectShareExceeded

from .conftest import BODY_MARKERS, make_home

DAY = "2024-06-01"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    home = make_home(tmp_path_factory.mktemp("mail"))
    home.result = extract_mail(home.settings(), DAY)
    return home


def emails(home, where="true"):
    return home.query(f"select * from raw_activity.activity_email where {where} "
                      "order by mailbox, origin")


def recipients(home, message_id):
    return home.query("select kind, position, address, name, domain, is_internal, "
                      "address_is_hashed from raw_activity.activity_email_recipient "
                      "where message_id = $1 order by origin, kind desc, position", [message_id])


def test_headers_threads_and_addresses(loaded):
    rows = {(r["mailbox"], r["origin"]): r for r in emails(loaded)}
    first = rows[("alice@northpeak.io", "alice@northpeak.io.mbox@0")]
    assert {k: first[k] for k in ("message_id", "thread_id", "in_reply_to", "references",
                                  "sent_at", "from_address", "from_name", "from_domain",
                                  "is_internal_sender", "subject", "subject_mode")} == {
        "message_id": "m1@northpeak.io", "thread_id": "m1@northpeak.io", "in_reply_to": None,
        "references": None, "sent_at": datetime(2024, 3, 4, 9),
        "from_address": "alice@northpeak.io",  # "Alice@NorthPeak.io": lower case, name apart
        "from_name": "Alice Rep", "from_domain": "northpeak.io", "is_internal_sender": True,
        "subject": "Proposal for the pilot project",  # folded over two lines
        "subject_mode": "keep"}
    reply = rows[("alice@northpeak.io", "alice@northpeak.io.mbox@599")]
    assert (reply["message_id"], reply["thread_id"], reply["in_reply_to"], reply["references"],
            reply["sent_at"], reply["from_name"], reply["is_internal_sender"]) == (
        "reply-1@customer.com", "m1@northpeak.io", "m1@northpeak.io", "m1@northpeak.io",
        datetime(2024, 3, 4, 14, 30), "Buyer, Bob", False)
    # the To header is folded, names quoted; body lines that look like headers are not read
    assert recipients(loaded, "reply-1@customer.com") == [
        {"kind": "to", "position": 0, "address": "alice@northpeak.io", "name": "Alice Rep",
         "domain": "northpeak.io", "is_internal": True, "address_is_hashed": False}]
    first_rcpt = [r for r in recipients(loaded, "m1@northpeak.io")][:3]
    assert [(r["kind"], r["position"], r["address"], r["name"], r["is_internal"])
            for r in first_rcpt] == [("to", 0, "bob.buyer@customer.com", "Buyer, Bob", False),
                                     ("to", 1, "carol@customer.com", "Carol", False),
                                     ("cc", 0, "dave@northpeak.io", "Dave", True)]
    assert loaded.count("activity_email_recipient", "address like '%body.example%'") == 0


def test_rfc2047_crlf_missing_id_and_duplicates(loaded):
    rows = {r["origin"]: r for r in emails(loaded, "mailbox = 'alice@northpeak.io'")}
    enc = rows["alice@northpeak.io.mbox@984"]
    assert (enc["from_name"], enc["subject"], enc["sent_at"]) == (
        "Zoë Müller", "München meeting — next steps", datetime(2024, 3, 5, 8))
    assert [(r["address"], r["name"]) for r in recipients(loaded, "m3@customer.com")] == [
        ("ana@northpeak.io", "Ana María"), ("plain@customer.com", None)]
    assert rows["alice@northpeak.io.mbox@1334"]["subject"] == "Windows line endings"
    generated = rows["alice@northpeak.io.mbox@1568"]
    assert generated["message_id"].startswith("generated-") and \
        generated["message_id"].endswith("@revwh.invalid")
    assert generated["sent_at"] == datetime(2024, 3, 5, 11)  # "GMT" zone name
    # the same Message-ID twice in one mailbox: raw keeps both (staging deduplicates)
    assert loaded.count("activity_email", "message_id = 'm1@northpeak.io'") == 2


def test_maildir_and_eml(loaded):
    bob = emails(loaded, "mailbox = 'bob'")
    assert [(r["message_id"], r["origin"], r["thread_id"]) for r in bob] == [
        ("maildir-2@northpeak.io", "bob/cur/1709809200.M2P200.mailhost:2,S", "maildir-1@customer.com"),
        ("maildir-1@customer.com", "bob/new/1709805600.M1P100.mailhost", "maildir-1@customer.com")]
    carol = emails(loaded, "mailbox = 'carol'")
    assert [(r["message_id"], r["subject"]) for r in carol] == [
        ("eml-1@northpeak.io", "Follow-up"), ("eml-2@northpeak.io", "Headers only")]
    assert [(r["kind"], r["address"], r["name"]) for r in recipients(loaded, "eml-1@northpeak.io")] \
        == [("to", "grace@navy.mil", None), ("cc", "juergen@kunde.de", "Jürgen")]


def test_bad_input_is_rejected_with_reasons(loaded):
    assert [r["message_id"] for r in emails(loaded, "mailbox = 'broken'")] == ["good@broken"]
    rejects = {r["origin"]: r for r in loaded.query(
        "select origin, reason, raw_text from raw_activity._rejects "
        "where table_name = 'activity_email'")}
    assert {o: r["reason"].split(":")[0] for o, r in rejects.items()} == {
        "broken.mbox@193": "Date",
        "broken.mbox@376": "illegal encoding in subject",
        "broken.mbox@567": "illegal encoding in From",
        "broken.mbox@785": "missing Date header",
        "broken.mbox@933": "truncated",
        "garbage.mbox@0": "not an mbox",
    }
    assert "is not an RFC 5322 date" in rejects["broken.mbox@193"]["reason"]
    assert "unknown charset 'x-klingon'" in rejects["broken.mbox@567"]["reason"]
    assert rejects["broken.mbox@193"]["raw_text"].startswith("Message-ID: <bad-date@broken>")
    assert loaded.result.rejects == 6
    assert loaded.result.rows == {"activity_email": 11, "activity_email_recipient": 17}


def test_no_body_text_anywhere_and_rerun_lands_nothing(loaded):
    for marker in BODY_MARKERS:
        assert loaded.text_everywhere(marker) == []
    again = extract_mail(loaded.settings(), DAY)
    assert again.total_rows == 0 and again.rejects == 0
    assert len(again.skipped) == 6


def test_mbox_append_maildir_and_eml_changes(home):
    s = home.settings()
    extract_mail(s, DAY)
    mbox = home.mail / "alice@northpeak.io.mbox"
    size = mbox.stat().st_size
    with mbox.open("ab") as f:  # mail arrives: two messages appended
        for i in (1, 2):
            f.write(f"From x Mon Mar 11 09:00:00 2024\nMessage-ID: <new-{i}@northpeak.io>\n"
                    f"Date: Mon, 11 Mar 2024 09:0{i}:00 +0000\nFrom: alice@northpeak.io\n"
                    f"To: bob.buyer@customer.com\nSubject: New {i}\n\nBODY\n\n".encode())
    (home.mail / "bob" / "new" / "1710000000.M3P300.mailhost").write_text(
        "Message-ID: <maildir-3@customer.com>\nDate: Mon, 11 Mar 2024 10:00:00 +0000\n"
        "From: frank@customer.com\nTo: bob@northpeak.io\nSubject: Third\n\nBODY\n")
    # a message read in the mail client moves from new/ to cur/: not landed again
    os.rename(home.mail / "bob" / "new" / "1709805600.M1P100.mailhost",
              home.mail / "bob" / "cur" / "1709805600.M1P100.mailhost:2,S")
    eml = home.mail / "carol" / "headers-only.eml"
    eml.write_text(eml.read_text().replace("Headers only", "Headers only, edited"))
    second = extract_mail(s, DAY)
    assert second.rows == {"activity_email": 4, "activity_email_recipient": 4}
    assert sorted(r["message_id"] for r in home.query(
        "select message_id from raw_activity.activity_email where _batch_id = $1",
        [second.batch_id])) == ["eml-2@northpeak.io", "maildir-3@customer.com",
                                "new-1@northpeak.io", "new-2@northpeak.io"]
    new1 = home.query("select origin from raw_activity.activity_email "
                      "where message_id = 'new-1@northpeak.io'")[0]
    assert new1["origin"] == f"alice@northpeak.io.mbox@{size}"
    # rewritten (not appended): the mbox is read again from the start
    mbox.write_bytes(mbox.read_bytes().replace(b"Proposal for the\n pilot", b"Proposal for a\n pilot"))
    third = extract_mail(s, DAY)
    assert third.rows["activity_email"] == 8 and third.skipped == [
        "bob", "broken.mbox", "carol/follow-up.eml", "carol/headers-only.eml", "garbage.mbox"]
    assert extract_mail(s, DAY).total_rows == 0


def test_huge_header_and_unreadable_file_do_not_stop_the_run(home):
    big = home.mail / "huge.mbox"
    with big.open("wb") as f:
        f.write(b"From a Mon Mar 4 09:00:00 2024\nMessage-ID: <before@x>\n"
                b"Date: Mon, 04 Mar 2024 09:00:00 +0000\nFrom: a@x.com\nSubject: before\n\nbody\n\n")
        f.write(b"From a Mon Mar 4 09:00:00 2024\nMessage-ID: <huge@x>\nX-Junk: ")
        for _ in range(10 * 1024):
            f.write(b"y" * 1023 + b"\n ")
        f.write(b"\nDate: Mon, 04 Mar 2024 09:00:00 +0000\n\nbody\n\n")
        f.write(b"From a Mon Mar 4 09:00:00 2024\nMessage-ID: <after@x>\n"
                b"Date: Mon, 04 Mar 2024 09:00:00 +0000\nFrom: a@x.com\nSubject: after\n\nbody\n\n")
    (home.mail / "dead.mbox").symlink_to(home.mail / "missing.mbox")
    result = extract_mail(home.settings(), DAY)
    assert [r["message_id"] for r in emails(home, "mailbox = 'huge'")] == ["before@x", "after@x"]
    rejects = {r["origin"]: r["reason"] for r in home.query(
        "select origin, reason from raw_activity._rejects")}
    huge = [v for k, v in rejects.items() if k.startswith("huge.mbox@")]
    assert len(huge) == 1 and "above the 1048576 byte limit" in huge[0]
    assert rejects["dead.mbox"].startswith("file could not be read")
    assert result.rows["activity_email"] == 13


def test_reject_share_and_missing_folder(home):
    for p in list(home.mail.iterdir()):
        if p.name not in ("broken.mbox", "garbage.mbox"):
            p.unlink() if p.is_file() else None
    import shutil
    shutil.rmtree(home.mail / "bob")
    shutil.rmtree(home.mail / "carol")
    with pytest.raises(RejectShareExceeded, match="6 of 7 items"):
        extract_mail(home.settings(max_reject_share=0.02), DAY)
    assert "activity_email" not in home.tables()
    result = extract_mail(home.settings(max_reject_share=0.9), DAY)  # state did not advance
    assert result.rows == {"activity_email": 1, "activity_email_recipient": 1}
    with pytest.raises(SourceUnreadable, match="REVWH_MAIL_DIR"):
        extract_mail(home.settings(mail_dir=home.path / "nowhere"), DAY)
