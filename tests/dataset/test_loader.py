from pathlib import Path

from app.cases.files import CaseFile
from app.dataset.loader import load_folder
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
