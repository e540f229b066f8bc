"""CSV import into an audience: streamed, bounded memory, every rejected row reported with its line.

The file is read row by row; valid rows are written in chunks (PostgreSQL: COPY into a temporary
table, then one INSERT ... ON CONFLICT; elsewhere: bulk_create with update_conflicts). A number that
is already in the audience updates that contact's attributes. Rejected rows (invalid number, repeated
number, malformed row) go to a CSV report with their line number and reason.

On PostgreSQL (outside an open transaction) a thread of the import stores the chunks, over its own
connection, while the next one is read and validated (`ChunkWriter`).

Memory: the set of numbers seen so far (as integers, ~60 MB for a million) plus three chunks at most
(one being read, one waiting, one being stored).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.files import File
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from rcsconnect.phone import normalise as phone_normalise

from .models import AudienceImport, Contact
from .storage import storage

log = logging.getLogger(__name__)

PHONE_COLUMNS = ("phone", "phone_number", "number", "msisdn", "mobile", "to")
SUBSCRIBED_COLUMN = "subscribed"
TRUE_VALUES, FALSE_VALUES = {"", "1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f"}
CHUNK = 10_000
csv.field_size_limit(1_000_000)


class ImportError_(ValueError):  # noqa: N801 - ImportError is a builtin
    """The file cannot be imported at all (no phone column, not CSV)."""


@dataclass
class Row:
    phone: str
    attributes: dict[str, str]
    subscribed: bool


@dataclass
class Tally:
    rows: int = 0
    imported: int = 0
    updated: int = 0
    invalid: int = 0
    duplicate: int = 0
    bytes_read: int = 0
    existing: set[int] = field(default_factory=set)


# A cell a spreadsheet would read as a formula (CSV injection, OWASP): written with a leading quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ReportWriter:
    """The rejected-rows CSV: a csv.writer whose cells cannot start a spreadsheet formula."""

    def __init__(self, file):
        self.writer = csv.writer(file)

    def writerow(self, row: list) -> None:
        self.writer.writerow([_inert(cell) for cell in row])


def _inert(cell: Any) -> Any:
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_START) else cell


def read_rows(binary, region: str, report, tally: Tally, seen: set[int]) -> Iterator[Row]:
    """Valid rows of the CSV; rejected rows are written to `report` (csv.writer)."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if not header:
        raise ImportError_("The file is empty.")
    names = [h.strip() for h in header]
    lowered = [n.lower() for n in names]
    phone_at = next((lowered.index(c) for c in PHONE_COLUMNS if c in lowered), None)
    if phone_at is None:
        raise ImportError_(f"No phone column: name one column {', '.join(PHONE_COLUMNS)}.")
    subscribed_at = lowered.index(SUBSCRIBED_COLUMN) if SUBSCRIBED_COLUMN in lowered else None
    attribute_columns = [(i, n) for i, n in enumerate(names) if i not in (phone_at, subscribed_at) and n]
    width = len(names)
    for record in reader:
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        tally.rows += 1
        line = reader.line_num
        raw = record[phone_at] if phone_at < len(record) else ""
        if len(record) != width:
            tally.invalid += 1
            report.writerow([line, raw, f"Has {len(record)} fields; the header has {width}."])
            continue
        phone, reason = phone_normalise(raw, region)
        if not phone:
            tally.invalid += 1
            report.writerow([line, raw, reason])
            continue
        subscribed = True
        if subscribed_at is not None:
            flag = record[subscribed_at].strip().lower()
            if flag not in TRUE_VALUES and flag not in FALSE_VALUES:
                tally.invalid += 1
                report.writerow([line, raw, f"subscribed must be yes/no, true/false or 1/0, not {flag!r}."])
                continue
            subscribed = flag in TRUE_VALUES
        key = int(phone[1:])
        if key in seen:
            tally.duplicate += 1
            report.writerow([line, raw, f"Duplicate of an earlier row ({phone})."])
            continue
        seen.add(key)
        if key in tally.existing:
            tally.updated += 1
        else:
            tally.imported += 1
        attributes = {n: record[i].strip() for i, n in attribute_columns if record[i].strip()}
        yield Row(phone, attributes, subscribed)


def write_chunk(audience_id: int, rows: list[Row]) -> None:
    """Insert the rows into the audience; a number already there is updated (`Storage.write_contacts`)."""
    if rows:
        storage().write_contacts(audience_id, rows)


class ChunkWriter:
    """Stores chunks of rows, and the job's progress after each.

    On PostgreSQL, outside an open transaction, a thread does it over a connection of its own: the
    database inserts one chunk while the next is read and validated (the two halves of an import,
    about 40 and 60 % of its time, then overlap on two cores instead of taking turns). Elsewhere (SQLite,
    or inside a transaction, as in tests) the caller's thread stores each chunk at once.
    """

    def __init__(self, job: AudienceImport):
        self.job = job
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if storage().parallel_writers():
            self.chunks: queue.Queue[tuple[list[Row], dict] | None] = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._run, name=f"import-{job.pk}", daemon=True)
            self.thread.start()

    def put(self, rows: list[Row], progress: dict) -> None:
        """Store `rows`, then save `progress` (AudienceImport fields); a failed store is raised here."""
        if self.thread is None:
            self._store(rows, progress)
            return
        self._raise()
        self.chunks.put((rows, progress))  # waits while the previous chunk is still being stored

    def close(self, *, quietly: bool = False) -> None:
        """Wait until every chunk put is stored; then raise the error if one failed (unless `quietly`:
        the reading thread is failing already, with an error of its own)."""
        if self.thread is not None:
            self.chunks.put(None)
            self.thread.join()
            if not quietly:
                self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            while (item := self.chunks.get()) is not None:
                if self.error is None:  # after a failure, the rest is taken and dropped
                    try:
                        self._store(*item)
                    except BaseException as exc:  # noqa: BLE001 - raised in the reading thread
                        self.error = exc
        finally:
            connection.close()

    def _store(self, rows: list[Row], progress: dict) -> None:
        # A savepoint inside a caller's transaction: a failed chunk leaves it usable to mark the job.
        with transaction.atomic():
            write_chunk(self.job.audience_id, rows)
            AudienceImport.objects.filter(pk=self.job.pk).update(**progress)


def run_import(job: AudienceImport) -> AudienceImport:
    """Import the job's file; progress is saved every chunk so the page can show it."""
    job.status, job.error = AudienceImport.Status.RUNNING, ""
    job.save(update_fields=["status", "error"])
    tally = Tally()
    existing = Contact.objects.filter(audience_id=job.audience_id).values_list("phone", flat=True).iterator()
    tally.existing = {int(p[1:]) for p in existing if p[1:].isdigit()}
    seen: set[int] = set()
    with tempfile.NamedTemporaryFile("w+", newline="", suffix=".csv", delete=False) as report_file:
        report = ReportWriter(report_file)
        report.writerow(["line", "phone", "reason"])
        writer = ChunkWriter(job)
        try:
            with job.file.open("rb") as binary:
                chunk: list[Row] = []
                for row in read_rows(binary, job.default_region, report, tally, seen):
                    chunk.append(row)
                    if len(chunk) >= CHUNK:
                        writer.put(chunk, _progress(job, tally, binary))
                        chunk = []
                writer.put(chunk, _progress(job, tally, binary))
                writer.close()
            job.status = AudienceImport.Status.DONE
        except (ImportError_, UnicodeDecodeError, csv.Error) as exc:
            writer.close()  # what was read before the problem is stored, as it would be without a thread
            job.status, job.error = AudienceImport.Status.FAILED, str(exc)[:500]
        except DatabaseError as exc:
            # Storing a chunk failed: the job ends FAILED with the reason, not RUNNING forever.
            writer.close(quietly=True)
            log.exception("import %s: storing a chunk failed", job.pk)
            job.status = AudienceImport.Status.FAILED
            job.error = f"Storing the contacts failed ({type(exc).__name__}); rows stored before it are kept."
        except BaseException:
            writer.close(quietly=True)
            raise
        report_path = report_file.name
    try:
        if tally.invalid or tally.duplicate:
            with open(report_path, "rb") as fh:
                job.report.save(f"import-{job.pk}-rejected.csv", File(fh), save=False)
    finally:
        os.unlink(report_path)
    job.finished_at = timezone.now()
    _store_tally(job, tally)
    job.save()
    return job


def _progress(job: AudienceImport, tally: Tally, binary) -> dict:
    """The job's progress fields as of now (set on `job`), for `ChunkWriter.put` to save."""
    with contextlib.suppress(OSError, ValueError):
        tally.bytes_read = binary.tell()
    _store_tally(job, tally)
    return {
        "bytes_read": job.bytes_read,
        "rows_read": job.rows_read,
        "imported_count": job.imported_count,
        "updated_count": job.updated_count,
        "invalid_count": job.invalid_count,
        "duplicate_count": job.duplicate_count,
    }


def _store_tally(job: AudienceImport, tally: Tally) -> None:
    job.bytes_read = max(job.bytes_read, tally.bytes_read)
    job.rows_read, job.imported_count, job.updated_count = tally.rows, tally.imported, tally.updated
    job.invalid_count, job.duplicate_count = tally.invalid, tally.duplicate
