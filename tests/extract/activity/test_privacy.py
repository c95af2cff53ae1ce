"""Privacy settings: keyed hashes for external addresses, subjects hashed or dropped."""

from __future__ import annotations

import hashlib
import hmac

from revwh.extract.activity import extract_calendars, extract_mail

from .conftest import BODY_MARKERS

DAY = "2024-06-01"
KEY = "test-hash-key"


def keyed(value: str) -> str:
    return "h:" + hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def test_external_addresses_hashed_internal_kept_subjects_hashed(home):
    s = home.settings(hash_external_addresses=True, address_hash_key=KEY, subject_mode="hash")
    extract_mail(s, DAY)
    extract_calendars(s, DAY)
    bob = keyed("bob.buyer@customer.com")
    # the same external person has the same hash in email and calendar: matching still works
    rcpt = home.query("select address, name, domain, is_internal, address_is_hashed from "
                      "raw_activity.activity_email_recipient where message_id = 'm1@northpeak.io' "
                      "order by origin, kind desc, position limit 3")
    assert rcpt == [
        {"address": bob, "name": None, "domain": "customer.com", "is_internal": False,
         "address_is_hashed": True},
        {"address": keyed("carol@customer.com"), "name": None, "domain": "customer.com",
         "is_internal": False, "address_is_hashed": True},
        {"address": "dave@northpeak.io", "name": "Dave", "domain": "northpeak.io",
         "is_internal": True, "address_is_hashed": False}]
    att = home.query("select distinct address, name, address_is_hashed from "
                     "raw_activity.activity_meeting_attendee where domain = 'customer.com' "
                     "and address = $1", [bob])
    assert att == [{"address": bob, "name": None, "address_is_hashed": True}]
    reply = home.query("select from_address, from_name, from_domain, from_is_hashed, subject, "
                       "subject_mode from raw_activity.activity_email "
                       "where message_id = 'reply-1@customer.com'")[0]
    assert reply == {"from_address": bob, "from_name": None, "from_domain": "customer.com",
                     "from_is_hashed": True,
                     "subject": keyed("RE: Proposal for the pilot project"),
                     "subject_mode": "hash"}
    meeting = home.query("select summary, subject_mode, organizer, organizer_is_hashed "
                         "from raw_activity.activity_meeting where meeting_id = 'single@test'")[0]
    assert meeting == {"summary": keyed("Discovery call, part 1"), "subject_mode": "hash",
                       "organizer": "alice@northpeak.io", "organizer_is_hashed": False}
    # nothing else of an external address, and no subject or body, anywhere (rejects included)
    for text in ("bob.buyer", "Buyer, Bob", "carol@customer.com", "grace@navy.mil",
                 "Grace Hopper", "pilot project", "Weekly pipeline review", "Caf",
                 *BODY_MARKERS):
        assert home.text_everywhere(text) == [], text
    hashed = home.query("select count(*) as n from raw_activity.activity_email_recipient "
                        "where not is_internal and (address not like 'h:%' or length(address) <> 66)")
    assert hashed == [{"n": 0}]
    assert home.query("select count(*) as n from raw_activity.activity_email_recipient "
                      "where is_internal and address like 'h:%'") == [{"n": 0}]


def test_subjects_dropped(home):
    s = home.settings(subject_mode="drop")
    extract_mail(s, DAY)
    extract_calendars(s, DAY)
    assert home.query("select count(*) as n from raw_activity.activity_email "
                      "where subject is not null or subject_mode <> 'drop'") == [{"n": 0}]
    assert home.query("select count(*) as n from raw_activity.activity_meeting "
                      "where summary is not null") == [{"n": 0}]
    for text in ("pilot project", "Windows line endings", "Daily stand-up", "Month 13",
                 *BODY_MARKERS):
        assert home.text_everywhere(text) == [], text
    # addresses stay readable when only subjects are dropped
    assert home.count("activity_email_recipient", "address = 'bob.buyer@customer.com'") == 3
