"""Request ids (`R-7KQ2M9XD`): eight letters of a 32-letter alphabet without look-alikes
(no 0/O, 1/I/L), from one CSPRNG draw cut into 5-bit letters."""

from __future__ import annotations

import re
from collections import Counter

from bot.service.activation import new_request_id

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def test_an_id_is_r_dash_and_eight_letters_of_the_alphabet() -> None:
    for _ in range(200):
        assert re.fullmatch(rf"R-[{ALPHABET}]{{8}}", new_request_id())


def test_every_letter_turns_up_in_every_position_and_ids_do_not_repeat() -> None:
    ids = [new_request_id() for _ in range(4000)]
    assert len(set(ids)) == len(ids)  # 40 bits: a repeat in 4,000 is ~1 in 140,000
    for position in range(2, 10):
        seen = Counter(i[position] for i in ids)
        # 125 expected per letter; a letter never drawn (a stuck bit) would show as 0.
        assert set(seen) == set(ALPHABET)
        assert min(seen.values()) > 60
