import time
from pathlib import Path

import pytest

from app.templating.library import LetterTemplate, parse_template
from app.templating.rendering import MAX_OUTPUT_CHARS, LetterRenderer, RenderError, letter_seed


def make_template(
    body: str, subjects: tuple[str, ...] = ("Appeal for {{ name }}",)
) -> LetterTemplate:
    front = (
        "---\nname: t\nlanguage: en\npurpose: individual\ndescription: test\n"
        "channels: [email]\nsubjects:\n" + "".join(f"  - {s!r}\n" for s in subjects) + "---\n"
    )
    return parse_template(Path("t.en.j2"), (front + body).encode())


@pytest.fixture(scope="module")
def renderer() -> LetterRenderer:
    return LetterRenderer()


def render(renderer: LetterRenderer, body: str, seed: int = 1, **context: object) -> str:
    return renderer.render(make_template(body), {"name": "Sanat", **context}, seed=seed).body


class TestStrictness:
    def test_a_missing_field_is_an_error_not_a_blank(self, renderer: LetterRenderer) -> None:
        with pytest.raises(RenderError, match="'case' is undefined"):
            render(renderer, "Dear {{ case.people[0].name }}")
        with pytest.raises(RenderError, match="no attribute 'sentence'"):
            render(renderer, "{{ person.sentence }}", person={"name": "x"})


class TestSandbox:
    @pytest.mark.parametrize(
        "body",
        [
            "{{ name.__class__ }}",
            "{{ name.__class__.__mro__[1].__subclasses__() }}",
            "{{ one_of.__globals__ }}",
            "{{ names.__code__ }}",
            "{{ [].append(1) }}",
            "{% set d = {} %}{{ d.update(a=1) }}",
            "{{ self._TemplateReference__context }}",
        ],
    )
    def test_internals_and_mutation_are_refused(self, renderer: LetterRenderer, body: str) -> None:
        with pytest.raises(RenderError):
            render(renderer, body)

    def test_no_builtins_beyond_the_letter_helpers(self, renderer: LetterRenderer) -> None:
        for name in ("lipsum", "cycler", "joiner", "dict", "config", "request", "settings"):
            with pytest.raises(RenderError, match="undefined"):
                render(renderer, "{{ " + name + " }}")

    def test_huge_output_is_capped(self, renderer: LetterRenderer) -> None:
        with pytest.raises(RenderError, match=f"longer than {MAX_OUTPUT_CHARS}"):
            render(renderer, "{% for i in range(100000) %}a long line of text{% endfor %}")
        with pytest.raises(RenderError, match="too large"):
            render(renderer, "{{ 'x' * 10000000 }}")
        with pytest.raises(RenderError, match="too large"):
            render(renderer, "{{ 10 ** 100000 }}")

    @pytest.mark.parametrize(
        "body",
        [
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "{% set l = [1,2,3,4,5,6,7,8,9,10] %}"
            + "{% for a in l %}{% for b in l %}{% for c in l %}{% for d in l %}{% for e in l %}"
            + "{% for f in l %}"
            + "{% endfor %}" * 6,
            "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
            "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
        ],
    )
    def test_runaway_templates_stop_quickly(self, renderer: LetterRenderer, body: str) -> None:
        start = time.monotonic()
        with pytest.raises(RenderError):
            render(renderer, body)
        assert time.monotonic() - start < 10  # bounded by the step budget, not by luck

    def test_syntax_errors_name_the_file(self, renderer: LetterRenderer) -> None:
        with pytest.raises(RenderError, match=r"t\.en\.j2"):
            renderer.check(make_template("{% if %}"))


class TestSupporterText:
    def test_a_message_is_included_verbatim_never_interpreted(
        self, renderer: LetterRenderer
    ) -> None:
        message = "{{ 7*7 }} {% for x in y %} <script>alert('x')</script> & ${HOME}"
        body = render(renderer, "Hello\n\n{{ supporter_message }}\n", supporter_message=message)
        assert message in body
        assert "49" not in body

    def test_subject_cannot_carry_a_header_injection(self, renderer: LetterRenderer) -> None:
        template = make_template("x", subjects=("Appeal {{ name }}",))
        letter = renderer.render(template, {"name": "A\r\nBcc: victim@example.org"}, seed=1)
        assert "\n" not in letter.subject
        assert "\r" not in letter.subject


class TestVariation:
    BODY = (
        "{{ one_of('I am writing', 'I write', 'I am contacting you') }} "
        "{{ one_of('about', 'regarding', 'concerning') }} {{ name }}. "
        "{{ one_of('Thank you.', 'Thank you for your attention.', 'With respect.') }}"
    )

    def test_the_same_identity_gives_the_same_letter(self, renderer: LetterRenderer) -> None:
        seed = letter_seed("campaign", "office", "case", "ada")
        template = make_template(self.BODY, subjects=("A {{ name }}", "B {{ name }}", "C"))
        first = renderer.render(template, {"name": "Sanat"}, seed=seed)
        second = renderer.render(template, {"name": "Sanat"}, seed=seed)
        assert first == second

    def test_a_thousand_letters_are_not_all_alike(self, renderer: LetterRenderer) -> None:
        template = make_template(self.BODY, subjects=("A {{ name }}", "B {{ name }}", "C"))
        letters = [
            renderer.render(template, {"name": "Sanat"}, seed=letter_seed("c", "o", str(i)))
            for i in range(1000)
        ]
        assert len({letter.body for letter in letters}) == 27  # every combination occurs
        assert len({letter.subject for letter in letters}) == 3
