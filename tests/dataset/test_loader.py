from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from app.cases.files import CaseFile
from app.dataset.loader import content_hash, load_folder
from app.recipients.files import RecipientFile
from tests.conftest import CASES_DIR, RECIPIENTS_DIR


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


class TestLoadFolder:
    def test_a_broken_file_names_the_file_the_field_and_the_problem(self, tmp_path: Path) -> None:
        source = (RECIPIENTS_DIR / "pace-president.yaml").read_text(encoding="utf-8")
        _write(
            tmp_path,
            "pace-president.yaml",
            source.replace("timezone: Europe/Paris", "timezone: Mars/Olympus"),
        )
        loaded, problems = load_folder(tmp_path, RecipientFile)
        assert loaded == []
        [problem] = problems
        assert problem.file.endswith("pace-president.yaml")
        assert problem.field == "timezone"
        assert "Mars/Olympus" in problem.message

    def test_nested_fields_are_named_by_path(self, tmp_path: Path) -> None:
        source = (CASES_DIR / "bokayev-ayan.yaml").read_text(encoding="utf-8")
        _write(
            tmp_path, "bokayev-ayan.yaml", source.replace("status: imprisoned", "status: jailed", 1)
        )
        _, problems = load_folder(tmp_path, CaseFile)
        assert [p.field for p in problems] == ["people[0].status"]
        assert "imprisoned" in problems[0].message  # lists the allowed values

    def test_an_invented_email_next_to_an_obfuscation_is_rejected(self, tmp_path: Path) -> None:
        source = (RECIPIENTS_DIR / "pace-president.yaml").read_text(encoding="utf-8")
        broken = source.replace(
            "obfuscated: true", "obfuscated: true\n    address: guess@pace.example"
        )
        _write(tmp_path, "pace-president.yaml", broken)
        _, problems = load_folder(tmp_path, RecipientFile)
        assert problems and "obfuscated" in problems[0].message
        assert problems[0].field.startswith("channels[")

    def test_unknown_fields_and_bad_yaml_are_problems_not_crashes(self, tmp_path: Path) -> None:
        _write(tmp_path, "a.yaml", "id: a\n  bad: [indent\n")
        _write(tmp_path, "b.yaml", "- just\n- a list\n")
        source = (CASES_DIR / "bokayev-ayan.yaml").read_text(encoding="utf-8")
        _write(tmp_path, "bokayev-ayan.yaml", source + "favourite_colour: blue\n")
        loaded, problems = load_folder(tmp_path, CaseFile)
        assert loaded == []
        messages = {Path(p.file).name: (p.field, p.message) for p in problems}
        assert "not valid YAML" in messages["a.yaml"][1]
        assert "mapping" in messages["b.yaml"][1]
        assert messages["bokayev-ayan.yaml"][0] == "favourite_colour"

    def test_the_id_must_match_the_file_name(self, tmp_path: Path) -> None:
        source = (CASES_DIR / "bokayev-ayan.yaml").read_text(encoding="utf-8")
        _write(tmp_path, "someone-else.yaml", source)
        loaded, problems = load_folder(tmp_path, CaseFile)
        assert loaded == []
        assert problems[0].field == "id"

    def test_impossible_and_partial_dates(self, tmp_path: Path) -> None:
        source = (CASES_DIR / "bokayev-ayan.yaml").read_text(encoding="utf-8")
        _write(tmp_path, "bokayev-ayan.yaml", source.replace("date: 2016-04", "date: 2016-13", 1))
        _, problems = load_folder(tmp_path, CaseFile)
        assert [p.field for p in problems] == ["key_dates[0].date"]

    def test_content_hash_ignores_formatting(self, tmp_path: Path) -> None:
        source = (CASES_DIR / "bokayev-ayan.yaml").read_text(encoding="utf-8")
        _write(tmp_path, "bokayev-ayan.yaml", source)
        [first], _ = load_folder(tmp_path, CaseFile)
        _write(tmp_path, "bokayev-ayan.yaml", "# a comment\n" + source + "\n\n")
        [second], _ = load_folder(tmp_path, CaseFile)
        assert first.content_hash == second.content_hash


class TestImpossibleDates:
    def test_an_impossible_date_is_a_problem_of_its_field_and_the_rest_loads(
        self, tmp_path: Path
    ) -> None:
        source = (CASES_DIR / "abdirova.yaml").read_text(encoding="utf-8")
        assert "sentenced_on: 2017-09-18" in source
        _write(tmp_path, "abdirova.yaml", source.replace("2017-09-18", "2015-13-45"))
        _write(tmp_path, "atabek.yaml", (CASES_DIR / "atabek.yaml").read_text(encoding="utf-8"))
        loaded, problems = load_folder(tmp_path, CaseFile)
        assert [item.ident for item in loaded] == ["atabek"]
        assert problems, "the impossible date went unreported"
        assert all(p.file.endswith("abdirova.yaml") for p in problems)
        assert "people[0].sentenced_on" in {p.field for p in problems}
        assert all("YYYY-MM-DD" in p.message for p in problems)

    @pytest.mark.parametrize(
        ("folder", "schema"), [(CASES_DIR, CaseFile), (RECIPIENTS_DIR, RecipientFile)]
    )
    def test_dates_read_as_text_hash_as_they_did(
        self, folder: Path, schema: type[BaseModel]
    ) -> None:
        # The import compares content hashes: reading dates as text must not make every
        # shipped file look changed, so each hashes as it does when YAML parses its dates.
        loaded, problems = load_folder(folder, schema)
        assert problems == []
        assert loaded
        for item in loaded:
            parsed = yaml.safe_load(item.path.read_text(encoding="utf-8"))
            assert item.content_hash == content_hash(schema.model_validate(parsed)), item.ident
