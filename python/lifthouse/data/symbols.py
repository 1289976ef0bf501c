"""Symbol names of the raw layer: :func:`normalize_symbol` turns what a user types (``BTC``,
``btc/usdt:usdt``) into the USD-M perpetual the raw layer stores (``BTCUSDT``), and refuses
symbols quoted in anything but USDT or USDC."""

from __future__ import annotations

import re

from lifthouse.data.schema import RawDataError

# Quotes of symbols the raw layer does not hold: it stores USD-M perpetuals, quoted in USDT (or
# USDC); ETHBTC is not ETHBTCUSDT and BTCUSD is COIN-M's BTCUSD_PERP (issue 35, item 8)
OTHER_QUOTES = ("FDUSD", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR")
# assets whose names end like a quote (STETH is an asset, not ST quoted in ETH); names of one
# letter before the quote (WBTC, WETH, BUSD) are read as assets anyway
QUOTE_LIKE_ASSETS = frozenset(
    "CBBTC SOLVBTC RENBTC PUMPBTC STETH WSTETH CBETH WBETH EZETH WEETH RSETH ANKRETH SLISBNB "
    "PYUSD FRXUSD AGEUR".split())
_COINM_SYMBOL = re.compile(r"(?P<base>[A-Z0-9]+)USD(?:PERP|\d{6})")


def normalize_symbol(symbol: str) -> str:
    """``BTC`` -> ``BTCUSDT``; ``btc/usdt:usdt`` -> ``BTCUSDT``; ``BTCUSDT`` unchanged. A symbol
    quoted in anything but USDT or USDC (``ETHBTC``, ``BTCUSD``, ``BTCUSD_PERP``) is a
    RawDataError naming the USD-M symbol to pass, never a made-up ``ETHBTCUSDT``."""
    s = symbol.strip().upper()
    s = s.split(":")[0].replace("/", "").replace("_", "").replace("-", "")
    if not s.isalnum():
        raise RawDataError(f"symbol {symbol!r} is not a Binance symbol like BTCUSDT")
    if s.endswith(("USDT", "USDC")) and len(s) > 4:
        return s
    m = _COINM_SYMBOL.fullmatch(s)
    quote = "USD" if m else next(
        (q for q in OTHER_QUOTES if s.endswith(q) and len(s) - len(q) >= 2
         and s not in OTHER_QUOTES and s not in QUOTE_LIKE_ASSETS), None)
    if quote is not None:
        base = m["base"] if m else s[: -len(quote)]
        if quote == "USD":
            raise RawDataError(
                f"symbol {symbol!r} is {base} quoted in USD: a Binance COIN-M contract like "
                f"{base}USD_PERP, which the raw layer does not hold (it holds USD-M "
                f"perpetuals, quoted in USDT); its USD-M twin is {base}USDT",
                hint=f"pass {base}USDT (or {base}); a COIN-M liquidation file named "
                     f"{base}USD_PERP_... is imported as {base}USDT, with a note")
        raise RawDataError(
            f"symbol {symbol!r} is {base} quoted in {quote}; the raw layer holds USD-M "
            f"perpetuals, quoted in USDT (or USDC), so it is not stored as {s}USDT",
            hint=f"pass {base}USDT (or {base}) for {base}'s USD-M perpetual; if {s} is the "
                 f"name of an asset, pass {s}USDT")
    if len(s) <= 6:
        s += "USDT"
    return s
