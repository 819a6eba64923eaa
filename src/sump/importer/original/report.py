"""What an import did: counts by table, and the rows skipped, adjusted or refused, with the reason."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sump.importer.original.source import TABLES


@dataclass
class TableCounts:
    imported: int = 0
    already_present: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class RowNote:
    """One row of the original database and what happened to it."""

    table: str
    id: uuid.UUID
    reason: str


@dataclass
class ImportReport:
    counts: dict[str, TableCounts] = field(default_factory=lambda: {table: TableCounts() for table in TABLES})
    skipped: list[RowNote] = field(default_factory=list)
    """Rows not imported, with the reason."""
    adjusted: list[RowNote] = field(default_factory=list)
    """Rows imported with a change: an environment renamed, role elements dropped, a name shortened."""
    failed: list[RowNote] = field(default_factory=list)
    """Tenants whose transaction Sump's database refused: nothing of them was written."""
    left_behind: dict[str, int] = field(default_factory=dict)
    """Rows of tables that are never imported (sessions, reset tokens), by table."""

    @property
    def complete(self) -> bool:
        return not self.failed

    def imported(self, table: str) -> None:
        self.counts[table].imported += 1

    def present(self, table: str) -> None:
        self.counts[table].already_present += 1

    def skip(self, table: str, row_id: uuid.UUID, reason: str) -> None:
        self.counts[table].skipped += 1
        self.skipped.append(RowNote(table, row_id, reason))

    def adjust(self, table: str, row_id: uuid.UUID, change: str) -> None:
        self.adjusted.append(RowNote(table, row_id, change))

    def merge(self, other: ImportReport) -> None:
        for table in TABLES:
            mine, theirs = self.counts[table], other.counts[table]
            mine.imported += theirs.imported
            mine.already_present += theirs.already_present
            mine.skipped += theirs.skipped
        self.skipped.extend(other.skipped)
        self.adjusted.extend(other.adjusted)
        self.failed.extend(other.failed)

    def render(self) -> str:
        lines = [f"{'table':<22}{'imported':>10}{'already present':>18}{'skipped':>10}"]
        for table in TABLES:
            counts = self.counts[table]
            lines.append(f"{table:<22}{counts.imported:>10}{counts.already_present:>18}{counts.skipped:>10}")
        if self.skipped:
            lines += ["", f"Skipped rows ({len(self.skipped)}), not imported (fix them in the original and run again):"]
            lines += [f"  {note.table} {note.id}: {note.reason}" for note in self.skipped]
        if self.adjusted:
            lines += ["", f"Imported with changes ({len(self.adjusted)}):"]
            lines += [f"  {note.table} {note.id}: {note.reason}" for note in self.adjusted]
        if self.failed:
            lines += ["", f"FAILED tenants ({len(self.failed)}), nothing of them was written:"]
            lines += [f"  {note.table} {note.id}: {note.reason}" for note in self.failed]
        found = ""
        if self.left_behind:
            sessions = plural(self.left_behind.get("session", 0), "session")
            tokens = plural(self.left_behind.get("password_reset_token", 0), "password reset token")
            found = f" ({sessions} and {tokens} in the original)"
        lines += [
            "",
            f"Not imported, by design: sessions and password reset tokens{found}.",
            "  The original stored them in plain text: everyone signs in again, with the same password, and asks",
            "  for a new reset link if they need one.",
            "Passwords: bcrypt hashes are kept as they are; each becomes argon2id at the account's next sign-in.",
            "Safe to run again: rows already in Sump are left untouched and counted as already present.",
        ]
        return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
