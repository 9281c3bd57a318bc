"""Reading input rows from files, directories and the Hugging Face Hub.

Every row comes with its 1-based line (or row) number, so a reject can be
traced back and a re-ingest recognises it. Decoding failures are rows too
(`reason` set), never exceptions: one bad line must not stop an ingest.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import mmap
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefsmith.ingest.jsonl import parse_jsonl_line
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import SourceRow

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
CSV_SUFFIXES = (".csv", ".csv.gz")
_HUB_ID_RE = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(slots=True)
class SourceFile:
    path: Path
    kind: str  # "jsonl" | "parquet" | "csv"

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def kind_of(path: Path) -> str | None:
    name = path.name.lower()
    for kind, suffixes in (
        ("jsonl", JSONL_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
        ("csv", CSV_SUFFIXES),
    ):
        if name.endswith(suffixes):
            return kind
    return None


def hub_id(source: str) -> str | None:
    """The Hub dataset id if `source` names one (`hub://org/name` or `org/name`), else None."""
    if source.startswith("hub://"):
        return source.removeprefix("hub://")
    if not Path(source).exists() and _HUB_ID_RE.match(source) and kind_of(Path(source)) is None:
        return source
    return None


def resolve_files(source: str, kinds: tuple[str, ...]) -> list[SourceFile]:
    """The data files a path names: the file itself, or every data file of a directory."""
    path = Path(source).expanduser()
    if not path.exists():
        raise UserError(f"input not found: {source}")
    if path.is_file():
        kind = kind_of(path)
        if kind not in kinds:
            wanted = ", ".join(s for k in kinds for s in _suffixes(k))
            raise UserError(f"unsupported file type: {path.name} (expected {wanted})")
        return [SourceFile(path, kind)]
    files = [
        SourceFile(p, kind)
        for p in sorted(path.rglob("*"))
        if p.is_file() and (kind := kind_of(p)) in kinds
    ]
    if not files:
        raise UserError(f"no data files ({', '.join(kinds)}) in directory {path}")
    return files


def _suffixes(kind: str) -> tuple[str, ...]:
    return {"jsonl": JSONL_SUFFIXES, "parquet": PARQUET_SUFFIXES, "csv": CSV_SUFFIXES}[kind]


BOM = b"\xef\xbb\xbf"


class TruncatedInput(Exception):
    """A compressed file ended early: every whole line before `line` was read; `tail` is the
    partial line that was cut off (the caller records it as a `truncated_input` reject)."""

    def __init__(self, line: int, tail: bytes) -> None:
        super().__init__(f"input truncated at line {line}")
        self.line, self.tail = line, tail


class GzipReader:
    """A gzip file's decompressed bytes (`read`, `readline`), multi-member included, that
    keeps what it could decompress when the file is cut short: then `truncated` is set
    instead of an EOFError losing the last block. A file that is not gzip at all is a
    UserError naming it."""

    CHUNK = 1 << 20

    def __init__(self, path: Path) -> None:
        self.path, self.raw = path, open(path, "rb")  # noqa: SIM115 - closed by close()
        self.buffer, self.produced = b"", 0
        self.done = self.truncated = False
        self._inflate = zlib.decompressobj(wbits=31)
        self._in_member = self._seen_member = False

    def tell(self) -> int:
        return self.raw.tell()

    def _fill(self, wanted: int) -> None:
        while len(self.buffer) < wanted and not self.done:
            chunk = self.raw.read(self.CHUNK)
            if not chunk:
                self.done = True
                self.truncated = self._in_member  # a member began and never ended
                return
            self._feed(chunk)

    def _feed(self, data: bytes) -> None:
        while data:
            try:
                out = self._inflate.decompress(data)
            except zlib.error as error:
                if not self._seen_member and self.produced == 0:
                    raise UserError(
                        f"{self.path}: not a gzip file ({error}); rename it without .gz if "
                        "it is plain text"
                    ) from None
                self.done = self.truncated = True  # corrupt from here: keep what came before
                return
            self._in_member = True
            self.produced += len(out)
            self.buffer += out
            if not self._inflate.eof:
                return
            data = self._inflate.unused_data  # the next member, if any
            self._inflate = zlib.decompressobj(wbits=31)
            self._in_member, self._seen_member = False, True

    def read(self, size: int) -> bytes:
        self._fill(size)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readline(self) -> bytes:
        while b"\n" not in self.buffer and not self.done:
            before = len(self.buffer)
            self._fill(before + self.CHUNK)
            if len(self.buffer) == before:
                break
        end = self.buffer.find(b"\n")
        end = len(self.buffer) if end < 0 else end + 1
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> GzipReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_binary(path: Path) -> tuple[io.BufferedIOBase | GzipReader, Callable[[], int]]:
    """The file opened for reading bytes, and a function giving bytes consumed on disk."""
    if path.name.lower().endswith(".gz"):
        reader = GzipReader(path)
        return reader, reader.tell
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, closed there
    return raw, raw.tell


def parse_jsonl_lines(lines: Iterable[bytes], first_line: int = 1) -> Iterator[SourceRow]:
    """Rows of JSONL lines (blank lines skipped but counted in line numbers)."""
    for number, line in enumerate(lines, start=first_line):
        row = parse_jsonl_line(number, line)
        if row is not None:
            yield row


def iter_jsonl(path: Path, on_progress: Callable[[int], None] | None = None) -> Iterator[SourceRow]:
    try:
        for first_line, block, position in read_jsonl_blocks(path):
            yield from parse_jsonl_lines(block.removesuffix(b"\n").split(b"\n"), first_line)
            if on_progress is not None:
                on_progress(position)
    except TruncatedInput as cut:
        yield truncated_row(cut)


def truncated_row(cut: TruncatedInput) -> SourceRow:
    """The reject row of a truncated file's cut-off line."""
    return SourceRow(cut.line, None, "truncated_input", cut.tail.decode("utf-8", "replace"))


def read_jsonl_blocks(path: Path, block_bytes: int = 1 << 22) -> Iterator[tuple[int, bytes, int]]:
    """(first line number, whole lines, bytes consumed on disk) in blocks of ~block_bytes.

    A block ends with a newline (except maybe the last): it is read, then
    completed up to the end of its last line, so each block is copied once. A UTF-8 byte
    order mark is dropped. A gzip file cut short raises TruncatedInput after its last
    whole line.
    """
    handle, position = _open_binary(path)
    line_number = 1
    with handle:
        while data := handle.read(block_bytes):
            if line_number == 1 and data.startswith(BOM):
                data = data[len(BOM) :]
            if not data.endswith(b"\n"):
                data += handle.readline()
            if getattr(handle, "truncated", False) and not data.endswith(b"\n"):
                cut = data.rfind(b"\n") + 1
                data, tail = data[:cut], data[cut:]
                if data:
                    yield line_number, data, position()
                    line_number += data.count(b"\n")
                raise TruncatedInput(line_number, tail)
            yield line_number, data, position()
            line_number += data.count(b"\n")
        if getattr(handle, "truncated", False):
            raise TruncatedInput(line_number, b"")


@dataclass(frozen=True, slots=True)
class FileSpan:
    """Bytes `start` to `end` of an uncompressed file: `line_count` whole lines, read where
    they are used."""

    path: str
    start: int
    end: int
    line_count: int

    def read(self) -> bytes:
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            data = handle.read(self.end - self.start)
        return data[len(BOM) :] if self.start == 0 and data.startswith(BOM) else data


def _count_newlines(view: mmap.mmap, start: int, end: int) -> int:
    # Counted in place, a MB at a time: reading a block into bytes first costs 3x the CPU.
    chunk = 1 << 20
    flags = np.empty(chunk, np.bool_)
    count = 0
    for offset in range(start, end, chunk):
        data = np.frombuffer(view, np.uint8, min(chunk, end - offset), offset)
        found = flags[: len(data)]
        np.equal(data, 10, out=found)
        count += int(np.count_nonzero(found))
        del data  # the mmap can't close while an array still points into it
    return count


def jsonl_spans(path: Path, block_bytes: int) -> Iterator[tuple[int, FileSpan]]:
    """(first line number, span of whole lines) in blocks of ~block_bytes of an uncompressed
    file. This process maps the file to find line ends and count lines; a worker reads its
    span from the page cache, so no block crosses a pipe."""
    size = path.stat().st_size
    if not size:
        return
    line_number, start = 1, 0
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        while start < size:
            end = min(start + block_bytes, size)
            if end < size:
                last_newline = view.rfind(b"\n", start, end)
                if last_newline < 0:  # a line longer than a block: the span ends with it
                    last_newline = view.find(b"\n", end)
                end = size if last_newline < 0 else last_newline + 1
            lines = _count_newlines(view, start, end)
            yield line_number, FileSpan(str(path), start, end, lines + (view[end - 1] != 10))
            line_number += lines
            # Mapped pages read count in this process's RSS until dropped (the page cache
            # keeps them for the worker).
            released = start - start % mmap.PAGESIZE
            view.madvise(mmap.MADV_DONTNEED, released, end - released)
            start = end


def iter_parquet(
    path: Path, on_progress: Callable[[int], None] | None = None
) -> Iterator[SourceRow]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several types for a broken file
        raise UserError(f"cannot read Parquet file {path}: {error}") from error
    number, total = 0, max(parquet.metadata.num_rows, 1)
    size = path.stat().st_size
    for batch in parquet.iter_batches(batch_size=8192):
        for record in batch.to_pylist():
            number += 1
            yield SourceRow(number, record, None, "")
        if on_progress is not None:
            on_progress(size * number // total)


def iter_csv(path: Path, on_progress: Callable[[int], None] | None = None) -> Iterator[SourceRow]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        for record in reader:
            values = [v for v in record.values() if isinstance(v, str)]
            raw = ",".join(values)
            if any(_has_surrogates(v) for v in values):
                raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                yield SourceRow(reader.line_num, None, "undecodable_bytes", raw)
                continue
            yield SourceRow(reader.line_num, dict(record), None, raw)
    if on_progress is not None:
        on_progress(path.stat().st_size)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


READERS: dict[str, Callable[..., Iterator[SourceRow]]] = {
    "jsonl": iter_jsonl,
    "parquet": iter_parquet,
    "csv": iter_csv,
}


def is_json_array(path: Path) -> bool:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as file:
        return file.read(64).lstrip()[:1] == b"["


def iter_json_array(
    path: Path, on_progress: Callable[[int], None] | None = None
) -> Iterator[SourceRow]:
    """The objects of a file holding one JSON array (LLMBar's `dataset.json`), numbered from 1;
    the array is read whole, as such files are."""
    import orjson

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as file:
        data = file.read()
    try:
        records = orjson.loads(data)
    except orjson.JSONDecodeError:
        yield SourceRow(1, None, "invalid_json", data[:200])
        return
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            yield SourceRow(number, record)
        else:
            yield SourceRow(number, None, "not_an_object", repr(record)[:200])
    if on_progress is not None:
        on_progress(path.stat().st_size)


def iter_file(
    source: SourceFile, on_progress: Callable[[int], None] | None = None
) -> Iterator[SourceRow]:
    if source.kind == "jsonl" and is_json_array(source.path):
        return iter_json_array(source.path, on_progress)
    return READERS[source.kind](source.path, on_progress)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def check_hub_dataset(repo_id: str) -> None:
    """Fail fast (UserError) if the Hub can't be reached or has no such dataset."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        HfApi().dataset_info(repo_id, timeout=10)
    except RepositoryNotFoundError:
        raise UserError(
            f"no dataset {repo_id} on the Hugging Face Hub (or no access to it)"
        ) from None
    except Exception as error:
        raise UserError(
            f"could not reach the Hugging Face Hub for {repo_id}: {_first_line(error)}. "
            "Offline? Download the files and pass their path instead."
        ) from None


def load_hub_rows(repo_id: str, split: str, data_dir: str | None = None) -> Iterator[SourceRow]:
    """Rows of a Hub dataset split through `datasets.load_dataset` (network needed)."""
    import datasets

    try:
        dataset = datasets.load_dataset(repo_id, data_dir=data_dir, split=split)
    except Exception as error:
        where = f"{repo_id}" + (f" ({data_dir})" if data_dir else "")
        raise UserError(
            f"could not load {where} split {split!r} from the Hugging Face Hub: "
            f"{_first_line(error)}. Offline? Download the files and pass their path instead."
        ) from error
    for number, record in enumerate(dataset, start=1):
        yield SourceRow(number, dict(record), None, "")


class RowBudget:
    """The `limit` setting: rows left to read, shared by the files of one run."""

    def __init__(self, limit: int | None) -> None:
        self.left = limit

    def take(self, rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
        if self.left is None:
            yield from rows
            return
        for row in itertools.islice(rows, max(self.left, 0)):
            self.left -= 1
            yield row
