import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.cases import service as cases_service
from app.dataset.service import import_cases, import_recipients
from app.recipients import service as recipients_service
from app.recipients.schemas import RecipientUpdate
from tests.conftest import CASES_DIR, RECIPIENTS_DIR
from tests.factories import make_staff


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cases"
    shutil.copytree(CASES_DIR, folder)
    return folder


@pytest.fixture
def recipient_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "recipients"
    shutil.copytree(RECIPIENTS_DIR, folder)
    return folder


class TestImportCases:
    async def test_importing_the_same_files_again_changes_nothing(
        self, session: AsyncSession
    ) -> None:
        audit_before = await session.scalar(select(func.count(AuditEntry.id)))
        report = await import_cases(session, folder=CASES_DIR)
        assert report.created == report.updated == report.conflicts == []
        assert len(report.unchanged) == 31
        assert report.problems == []
        assert await session.scalar(select(func.count(AuditEntry.id))) == audit_before

    async def test_an_edited_file_updates_its_row_only(
        self, session: AsyncSession, case_dir: Path
    ) -> None:
        path = case_dir / "sychev.yaml"
        path.write_text(
            path.read_text(encoding="utf-8").replace("status: imprisoned", "status: released"),
            encoding="utf-8",
        )
        report = await import_cases(session, folder=case_dir)
        assert report.updated == ["sychev"]
        assert len(report.unchanged) == 30
        case = await cases_service.get_case(session, case_id="sychev")
        assert case.people[0].status.value == "released"

    async def test_a_new_file_creates_a_case_and_reports_homoglyphs(
        self, session: AsyncSession, case_dir: Path
    ) -> None:
        text = (case_dir / "abzhan.yaml").read_text(encoding="utf-8")
        (case_dir / "abzhan-copy.yaml").write_text(
            text.replace("id: abzhan", "id: abzhan-copy"), encoding="utf-8"
        )
        report = await import_cases(session, folder=case_dir)
        assert report.created == ["abzhan-copy"]
        notices = [p for p in report.problems if p.severity == "notice"]
        assert any(
            "Маkhambet Abzhan" in n.message and "'Makhambet Abzhan'" in n.message for n in notices
        )
        case = await cases_service.get_case(session, case_id="abzhan-copy")
        person = case.people[0]
        assert person.name == "Makhambet Abzhan"
        assert "Маkhambet Abzhan" in person.variants

    async def test_a_broken_file_is_reported_and_the_others_still_import(
        self, session: AsyncSession, case_dir: Path
    ) -> None:
        (case_dir / "sychev.yaml").write_text("id: sychev\ntitle: [unclosed\n", encoding="utf-8")
        report = await import_cases(session, folder=case_dir)
        assert [Path(p.file).name for p in report.errors] == ["sychev.yaml"]
        assert len(report.unchanged) == 30
        assert "sychev" in report.missing_files  # still in the database, file unreadable

    async def test_a_staff_edit_is_not_overwritten_by_a_changed_file(
        self, session: AsyncSession, recipient_dir: Path
    ) -> None:
        user, _ = await make_staff(session)
        recipient = await recipients_service.get_recipient(session, recipient_id="pace-president")
        await recipients_service.update_recipient(
            session,
            recipient=recipient,
            changes=RecipientUpdate(notes="checked by phone"),
            actor=user,
            today=recipient.holder_verified_on or recipient.created_at.date(),
        )
        unchanged = await import_recipients(session, folder=recipient_dir)
        assert unchanged.kept_edits == ["pace-president"]

        path = recipient_dir / "pace-president.yaml"
        path.write_text(
            path.read_text(encoding="utf-8").replace("Dear President,", "Dear Madam President,"),
            encoding="utf-8",
        )
        conflict = await import_recipients(session, folder=recipient_dir)
        assert conflict.conflicts == ["pace-president"]
        assert recipient.notes == "checked by phone"

        forced = await import_recipients(session, folder=recipient_dir, force=True)
        assert forced.updated == ["pace-president"]
        assert recipient.salutation == "Dear Madam President,"
        assert recipient.edited_at is None
