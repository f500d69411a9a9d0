"""Russian pre-holiday shortened working days (Labour Code art. 95), shipped as data.

The working day immediately before a non-working public holiday is one hour shorter. The
``holidays`` package has the public holidays and the government's transfers of days off
(including the Saturdays made working days), but not these shortened days, so they are listed
here, per year, as published in the official production calendar (производственный календарь)
for the five-day week. ``sla.calendar`` applies them automatically to calendars with
``holidays_country: RU``.

How a year was decided (every published year 2020-2026 follows this rule):

* a Monday-Friday working day is shortened when the *next calendar day* is one of the art. 112
  public holidays (1-8 Jan, 23 Feb, 8 Mar, 1 May, 9 May, 12 Jun, 4 Nov); a day before a
  *transferred* day off is not (e.g. 2025-05-07, 2026-12-30 are full days), nor is a Friday
  before a weekend that precedes a holiday (2026-02-20);
* a Saturday/Sunday made a working day by a transfer decree is shortened when the weekday it
  replaces would have been (2024-11-02 replaces 2024-04-30, the eve of 1 May: shortened;
  2024-12-28 replaces 2024-12-30, the eve of a transferred day off: full day), or when the
  next calendar day itself is a public holiday.

:func:`derive_ru_shortened_days` implements that rule from the ``holidays`` package; the test
suite checks it reproduces every published year below. To add a year see docs/calendar.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from types import MappingProxyType

from sla.holiday_transfers import transfer_substitutions

#: By how many minutes a pre-holiday day is shortened (art. 95: "на один час").
RU_SHORTENED_MINUTES = 60

#: The non-working public holidays of art. 112 of the Labour Code (month, day), in force since 2013.
RU_ART112_HOLIDAYS: tuple[tuple[int, int], ...] = (
    (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8),
    (2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4),
)  # fmt: skip

_D = date

#: Shortened pre-holiday days per year. Sources (stored copies of public pages; the dates were
#: also cross-checked with :func:`derive_ru_shortened_days` and the annual 40-hour norms):
_RU_SHORTENED_DAYS: dict[int, tuple[date, ...]] = {
    # 2020 (Government decree 10.07.2019 N 875): 5 shortened days.
    # 30.04, 08.05, 11.06 marked "*" in https://www.oviont.ru/useful/calendars/production/year_2020/ ;
    # 03.11: https://www.vedomosti.ru/society/news/2020/11/02/845419-v-rossii-nachalas-korotkaya-rabochaya-nedelya ;
    # 31.12: http://tvernews.ru/news/264112/ ; "5 сокращенных": https://altapress.ru (production calendar 2020).
    2020: (_D(2020, 4, 30), _D(2020, 5, 8), _D(2020, 6, 11), _D(2020, 11, 3), _D(2020, 12, 31)),
    # 2021 (decree N 1648): 20.02 (working Saturday), 30.04, 11.06 marked "*" in
    # https://mishki163.ru/prava-potrebiteley/3226-proizvodstvennyy-kalendar-2021-pri-grafike-2-2.html ;
    # 03.11: https://ndn.info/novosti/53645-dlinnye-vykhodnye-zhdut-rossiyan-v-noyabre .
    # (30.12 is a full day: 31.12.2021 is a transferred day off, not a holiday.)
    2021: (_D(2021, 2, 20), _D(2021, 4, 30), _D(2021, 6, 11), _D(2021, 11, 3)),
    # 2022 (decree 16.09.2021 N 1564): 22.02 and 05.03 (working Saturday) marked <*> in
    # https://consultant.ru/document/cons_doc_LAW_386234/ ;
    # 03.11: https://sakhalife.ru/den-narodnogo-edinstva-vyhodnoj-den/ .
    2022: (_D(2022, 2, 22), _D(2022, 3, 5), _D(2022, 11, 3)),
    # 2023 (decree 29.08.2022 N 1505): 22.02, 07.03, 03.11 "Предпраздничный день" in
    # https://gorodrabot.ru/calendar/2023 (also https://grossoffer.ru/work-calendar/2023 ).
    2023: (_D(2023, 2, 22), _D(2023, 3, 7), _D(2023, 11, 3)),
    # 2024 (decree 10.08.2023 N 1314): 07.03 (https://massage-aleksa-perm.ru/100625/...),
    # 08.05 (https://47channel.ru/event/startovala-sestidnevnaya-rabocaya-nedelya ),
    # 11.06 (https://tolknews.ru/obsestvo/169255-...), 02.11 working Saturday
    # (https://xn----8sbef8axpew9i.xn--p1ai/archives/116434 ); 22.02 (eve of Fri 23.02) by the rule.
    # Working Saturdays 27.04 and 28.12 are NOT shortened: they replace the ordinary days 29.04 and
    # 30.12 (https://realnoevremya.ru/news/324981-u-rossiyan-nachalas-shestidnevnaya-rabochaya-nedelya
    # for 28.12; https://graph.org/Pochemu-27-aprelya-dvadcat-chetvertogo-goda-rabochij-den-... for 27.04).
    2024: (_D(2024, 2, 22), _D(2024, 3, 7), _D(2024, 5, 8), _D(2024, 6, 11), _D(2024, 11, 2)),
    # 2025: "Сокращенными днями будут 7 марта, 30 апреля, 11 июня и 1 ноября"
    # https://saransk-news.net/incident/2025/01/08/224021-amp.html (citing RBC); 01.11 also
    # https://ria.ru/20251030/rabota-2051679296.html .
    2025: (_D(2025, 3, 7), _D(2025, 4, 30), _D(2025, 6, 11), _D(2025, 11, 1)),
    # 2026 (decree 24.09.2025 N 1466): "4 сокращённых предпраздничных дня"
    # https://vz.ru/information/2026/1/8/1385820.html ; 30.04, 08.05, 11.06, 03.11 in the
    # "Предпраздничные дни" column of https://www.4dk.ru/s/calendar (quarter norms 440/493/528/511 h
    # = 8 h x working days minus 0/3/0/1 h).
    2026: (_D(2026, 4, 30), _D(2026, 5, 8), _D(2026, 6, 11), _D(2026, 11, 3)),
    # 2027: DERIVED by the rule from the transfers in holidays 0.109 (20.02 working Saturday -> 22.02;
    # 02.01 -> 05.11; 03.01 -> 31.12); no published production calendar was found. Re-check when it is
    # published (a December 2025 draft mentioned a working Saturday 13.11.2027 instead).
    2027: (_D(2027, 2, 20), _D(2027, 4, 30), _D(2027, 6, 11), _D(2027, 11, 3)),
}

#: Years whose list is derived by the rule rather than taken from a published calendar.
RU_SHORTENED_DAYS_DERIVED_YEARS: frozenset[int] = frozenset({2027})

#: year -> the shortened days of that year (read-only).
RU_SHORTENED_DAYS: Mapping[int, tuple[date, ...]] = MappingProxyType(_RU_SHORTENED_DAYS)

_ALL_DAYS: frozenset[date] = frozenset(d for days in _RU_SHORTENED_DAYS.values() for d in days)


def ru_shortened_minutes(day: date) -> int:
    """Minutes by which ``day`` is shortened in Russia (60 on a listed pre-holiday day, else 0)."""
    return RU_SHORTENED_MINUTES if day in _ALL_DAYS else 0


def ru_covered_years() -> range:
    """The years for which the shortened days are shipped."""
    return range(min(_RU_SHORTENED_DAYS), max(_RU_SHORTENED_DAYS) + 1)


def derive_ru_shortened_days(year: int) -> tuple[date, ...]:
    """Derive a year's shortened days by the rule in the module docstring.

    Uses the installed ``holidays`` package for the year's days off and working weekends, so it is
    only as good as that package's transfer data for ``year``. Meant for adding a year to the data
    above (and for the consistency test), not used at run time.
    """
    import holidays


    hol = holidays.country_holidays("RU", years=range(year - 1, year + 2))
    art112 = {date(y, m, d) for y in (year, year + 1) for m, d in RU_ART112_HOLIDAYS}
    replaced = transfer_substitutions(hol)

    def working(d: date) -> bool:
        return bool(hol.is_working_day(d))

    out: list[date] = []
    d = date(year, 1, 1)
    while d.year == year:
        if working(d):
            eve = (d + timedelta(days=1)) in art112
            if hol.is_weekend(d):
                other = replaced.get(d)
                eve = eve or (other is not None and (other + timedelta(days=1)) in art112)
            if eve:
                out.append(d)
        d += timedelta(days=1)
    return tuple(out)
