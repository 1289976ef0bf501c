"""Reading the files ``lifthouse import`` is given: Parquet, Feather or CSV (plain or gzipped),
with :class:`InputFormat` saying what is never guessed. A CSV's field separator and decimal mark
are checked against its header and values: another separator, or numbers written with a decimal
comma or thousands separators, are refused naming ``--csv-delimiter`` / ``--decimal``."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

from lifthouse.data.schema import RawDataError


@dataclass(frozen=True)
class InputFormat:
    """How a user's files write what the importer never guesses (the flags of the same name):
    a CSV's field separator and decimal mark, the order of day and month in date strings, and
    which pass of a local time that occurs twice (DST) is meant."""
    csv_delimiter: str | None = None   # --csv-delimiter (default ',')
    decimal: str | None = None         # --decimal '.' or ',' (default: plain numbers only)
    date_format: str | None = None     # --date-format, strftime codes ('%d/%m/%Y %H:%M')
    dst: str | None = None             # --dst infer | earlier | later (default: refuse)


# File names that carry a symbol (case-insensitive), base asset then quote, optionally a


def read_any(path: Path, *, csv_delimiter: str | None = None,
             decimal: str | None = None) -> pa.Table:
    """Read a Parquet, Feather or CSV file; a damaged file is a RawDataError naming it.
    ``csv_delimiter`` / ``decimal``: a CSV's field separator and decimal mark (--csv-delimiter,
    --decimal; see :func:`_read_csv`)."""
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if not path.exists():
        raise RawDataError("file not found", file=path)
    try:
        if suffix in (".parquet", ".pq"):
            return pq.read_table(path)
        if suffix in (".feather", ".arrow", ".ipc"):
            return feather.read_table(path)
        if suffix in (".csv", ".csv.gz", ".txt"):
            return _read_csv(path, delimiter=csv_delimiter, decimal=decimal)
    except RawDataError:
        raise
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise RawDataError(f"cannot read the file ({type(exc).__name__}: {exc}); it looks "
                           "truncated or damaged", file=path,
                           hint="re-download or re-export the file; nothing was written") from exc
    raise RawDataError(f"unknown file type {suffix!r}", file=path,
                       hint="use .parquet, .feather or .csv")


# field separators a CSV header row is checked for (--csv-delimiter names the one to use)
CSV_DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}
DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}
# numbers with a decimal mark and, optionally, the other mark grouping thousands (--decimal)
NUMBER_RE = {
    ".": r"^[+-]?((\d{1,3}(,\d{3})+|\d+)(\.\d*)?|\.\d+)([eE][+-]?\d+)?$",
    ",": r"^[+-]?((\d{1,3}(\.\d{3})+|\d+)(,\d*)?|,\d+)([eE][+-]?\d+)?$",
}


def csv_delimiter(text: str) -> str:
    """The one-character field separator ``--csv-delimiter`` names (``;``, ``tab``, ``\\t``)."""
    value = DELIMITER_NAMES.get(text.strip().lower(), text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not one character (e.g. ';', '|', tab)")
    return value


def _show_delimiter(d: str) -> str:
    return "tab" if d == "\t" else repr(d)


def _first_line(path: Path) -> str:
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        return fh.readline().decode("utf-8", "replace").rstrip("\r\n")


def _read_csv(path: Path, *, delimiter: str | None = None, decimal: str | None = None
              ) -> pa.Table:
    """A CSV with a header row. Fields are separated by commas unless ``delimiter`` says
    otherwise; a header separated by something else (semicolons, tabs, pipes) is refused naming
    it and ``--csv-delimiter``. Numbers are plain (``1234.5``) unless ``decimal`` names the
    decimal mark (``.`` or ``,``; the other mark then groups thousands and is dropped); numbers
    with a decimal comma or thousands separators are refused naming ``--decimal``."""
    first = _first_line(path)
    counts = {d: first.count(d) for d in CSV_DELIMITERS}
    seen = max(counts, key=lambda d: counts[d])
    if delimiter is None and seen != "," and counts[seen] > counts[","]:
        raise RawDataError(
            f"the header row is separated by {CSV_DELIMITERS[seen]}"
            + (f" ({seen!r})" if seen != "\t" else "") + f", not commas: {first[:80]!r}",
            file=path,
            hint=f"pass --csv-delimiter {'tab' if seen == chr(9) else repr(seen)}"
                 + (" (and --decimal , if its numbers are written like 100,5)"
                    if seen == ";" else "") + "; nothing was written")
    delim = delimiter or ","
    if delimiter is not None and counts.get(delim, first.count(delim)) == 0 and counts[seen]:
        raise RawDataError(
            f"--csv-delimiter {_show_delimiter(delim)} does not occur in the header row, which "
            f"is separated by {CSV_DELIMITERS[seen]}: {first[:80]!r}", file=path,
            hint=f"pass --csv-delimiter {'tab' if seen == chr(9) else repr(seen)}")
    if not re.search(r"[A-Za-z_]{2,}", first.split(delim)[0]):
        raise RawDataError("CSV has no header row, so its columns cannot be mapped by name",
                           file=path, hint="add a header row with Binance column names "
                           "(archive CSVs are read by `lifthouse ingest`, which knows their "
                           "layout)")
    parse = pacsv.ParseOptions(delimiter=delim)
    convert = None
    if decimal is not None:   # every column as text: numbers are converted by their marks
        names = pacsv.open_csv(path, parse_options=parse).schema.names
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names})
    try:
        table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        m = re.search(r"Expected (\d+) columns, got (\d+)", str(exc))
        if m and int(m[2]) > int(m[1]) and delim != ",":
            raise RawDataError(
                f"{m[2]} fields where the header has {m[1]}", file=path,
                row=_first_long_row(path, delim, int(m[1])),
                hint=f"check that {CSV_DELIMITERS.get(delim, repr(delim))} separate the fields "
                     "and that text holding one is quoted; nothing was written") from exc
        if m and int(m[2]) > int(m[1]):
            raise RawDataError(
                f"{m[2]} fields where the header has {m[1]}: numbers written with a decimal "
                f"comma (100,5) or a thousands separator (1,000.5) split into two fields when "
                f"{CSV_DELIMITERS.get(delim, delim)} separate the fields", file=path,
                row=_first_long_row(path, delim, int(m[1])),
                hint="re-export the file with '.' decimals and no thousands separators, or "
                     "with ';' between fields (then pass --csv-delimiter ';' --decimal ,); "
                     "nothing was written") from exc
        raise
    if decimal is not None:
        return _convert_numbers(table, decimal)
    _refuse_marked_numbers(table, path)
    return table


def _first_long_row(path: Path, delim: str, n_fields: int) -> int:
    """The 1-based data row (the header is row 0) of the first line with more fields."""
    import csv
    import gzip
    import io

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        reader = csv.reader(io.TextIOWrapper(fh, "utf-8", errors="replace"), delimiter=delim)
        for i, row in enumerate(reader):
            if len(row) > n_fields:
                return i
    return 1


def _marked_numbers(values: pa.ChunkedArray) -> list[str]:
    """The decimal marks (``.``, ``,``) under which every non-empty text value of a column
    reads as a number; empty when some value is not a number (or the column is empty)."""
    text = pc.utf8_trim_whitespace(values)
    text = text.filter(pc.and_(pc.is_valid(text), pc.not_equal(text, "")))
    if len(text) == 0:
        return []
    return [mark for mark, rx in NUMBER_RE.items()
            if pc.all(pc.match_substring_regex(text, rx)).as_py()]


def _refuse_marked_numbers(table: pa.Table, path: Path) -> None:
    """A text column whose values are numbers with a decimal comma or thousands separators
    (``100,5``, ``101,000.00``, ``1.234,5``) is refused, naming the format and ``--decimal``
    (without it a comma is never read as a decimal mark or dropped)."""
    for name in table.column_names:
        col = table.column(name)
        if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
            continue
        marks = _marked_numbers(col)
        has_comma = pc.fill_null(pc.match_substring(col, ","), False)
        if not marks or (not pc.any(has_comma).as_py() and marks != [","]):
            continue  # plain numbers (read as text for another reason) are left as they are
        rows = col.to_pylist()
        flags = has_comma.to_pylist()
        i = flags.index(True) if True in flags else next(
            k for k, v in enumerate(rows) if v and v.strip())
        example = rows[i]
        if marks == [","]:
            what = "a decimal comma" if "," in example else "'.' as a thousands separator"
            fix = "pass --decimal , (',' marks decimals, '.' groups thousands and is dropped)"
        elif marks == ["."]:
            what, fix = ("',' as a thousands separator",
                         "pass --decimal . ('.' marks decimals, ',' groups thousands and is "
                         "dropped)")
        else:
            what, fix = ("a comma that is either a decimal mark or a thousands separator "
                         f"({example.strip()!r} reads as {example.strip().replace(',', '.')} or "
                         f"{example.strip().replace(',', '')})",
                         "pass --decimal , if ',' marks decimals, or --decimal . if it groups "
                         "thousands")
        raise RawDataError(f"column {name!r} holds numbers written with {what}, e.g. "
                           f"{example.strip()!r}", file=path, row=i + 1,
                           hint=fix + "; nothing was written")


def _convert_numbers(table: pa.Table, decimal: str) -> pa.Table:
    """Every text column whose values all read as numbers with ``decimal`` as the decimal mark
    (the other mark grouping thousands), as int64 (no decimal mark, no exponent) or float64;
    every other column stays text (times, symbols, sides)."""
    group = "," if decimal == "." else "."
    cols = []
    for name in table.column_names:
        col = pc.utf8_trim_whitespace(table.column(name))
        if decimal not in _marked_numbers(col):
            cols.append(pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col))
            continue
        text = pc.replace_substring(col, group, "")
        text = pc.replace_substring(text, decimal, ".")
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        whole = not pc.any(pc.match_substring_regex(text, r"[.eE]")).as_py()
        cols.append(text.cast(pa.int64() if whole else pa.float64()))
    return pa.table(cols, names=table.column_names)
