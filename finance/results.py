"""Result codes and their precedence.

The codes themselves are wire values (:class:`tradelane.contracts.finance.ResultCode`), declared
in precedence order. Precedence matters because a request can break several rules at once (a
frozen facility *and* an impaired cargo *and* too little headroom); reporting the first in a
fixed order makes the answer deterministic and testable, and puts the most fundamental reason
first: the request's shape, then idempotency (``already_*``: asking twice is answered the same
way whatever else changed), then the facility, the cargo, and last the amounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tradelane.contracts.finance import ResultCode

PRECEDENCE: dict[ResultCode, int] = {code: rank for rank, code in enumerate(ResultCode)}
"""Rank of each code; lower ranks win."""

Check = tuple[ResultCode, Callable[[], bool]]
"""A rule: its code and a predicate that is true when the rule is *broken*."""


def first_failure(checks: Iterable[Check]) -> ResultCode:
    """Evaluate ``checks`` lazily in order and return the first broken rule's code, else ``ok``.

    The checks must be listed in precedence order; listing them otherwise is a programming
    error (asserted), so the declared order and the evaluated order can never drift apart.
    Evaluation stops at the first broken rule, so later predicates may assume earlier ones
    held (e.g. the amount checks may assume an FX rate exists).
    """
    last = -1
    for code, broken in checks:
        rank = PRECEDENCE[code]
        assert rank > last, f"{code} is listed out of precedence order"
        last = rank
        if broken():
            return code
    return ResultCode.OK
