from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from app.errors import NotFound
from app.templating.library import Purpose, TemplateError, TemplateLibrary, parse_template

GOOD = (
    "---\nname: appeal\nlanguage: {lang}\npurpose: general\ndescription: d\n"
    "channels: [email, postal]\nsubjects: ['S']\n---\nBody {lang}\n"
)


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


class TestParseTemplate:
    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("no front matter", "must start with"),
            ("---\nname: appeal\n", "no closing"),
            ("---\nname: appeal\nlanguage: en\n---\nx", "front matter: purpose"),
            (
                GOOD.format(lang="en").replace("channels: [email, postal]", "channels: [fax]"),
                "channels",
            ),
            (GOOD.format(lang="en").replace("subjects: ['S']", "subjects: []"), "subjects"),
        ],
    )
    def test_bad_files_say_why(self, text: str, reason: str) -> None:
        with pytest.raises(TemplateError, match=reason):
            parse_template(Path("appeal.en.j2"), text.encode())

    def test_the_file_name_must_match_the_front_matter(self) -> None:
        with pytest.raises(TemplateError, match=r"appeal\.en\.j2"):
            parse_template(Path("other.en.j2"), GOOD.format(lang="en").encode())

    def test_the_version_is_the_content(self) -> None:
        first = parse_template(Path("appeal.en.j2"), GOOD.format(lang="en").encode())
        edited = parse_template(Path("appeal.en.j2"), (GOOD.format(lang="en") + "more\n").encode())
        assert first.version != edited.version
        assert first.purpose is Purpose.general


class TestTemplateLibrary:
    def test_language_falls_back_to_the_default(self, tmp_path: Path) -> None:
        _write(tmp_path, "appeal.en.j2", GOOD.format(lang="en"))
        _write(tmp_path, "appeal.fr.j2", GOOD.format(lang="fr"))
        _write(tmp_path, "broken.en.j2", "nothing")
        library = TemplateLibrary.load(tmp_path)
        assert library.get("appeal", "fr").language == "fr"
        assert library.get("appeal", "it").language == "en"
        assert [Path(p.file).name for p in library.problems] == ["broken.en.j2"]
        with pytest.raises(NotFound):
            library.get("missing", "en")

    def test_the_shipped_templates_load_and_compile(self) -> None:
        from app.templating.rendering import LetterRenderer

        library = TemplateLibrary.load(PROJECT_ROOT / "letter_templates")
        assert library.problems == []
        assert set(library.names()) >= {"individual-appeal", "general-appeal"}
        for name in ("individual-appeal", "general-appeal"):
            assert library.languages(name) == ["en", "fr"]
        renderer = LetterRenderer()
        for template in library.all():
            renderer.check(template)
