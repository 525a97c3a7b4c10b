from app.spelling import is_mixed_script, search_key, to_single_script

REPORT_HOMOGLYPH_NAMES = {
    # as printed in the report (Cyrillic capitals) -> single-script Latin
    "Маkhambet Abzhan": "Makhambet Abzhan",
    "Оlesya Khalabuzar": "Olesya Khalabuzar",
    "Таtiana Paraskevich": "Tatiana Paraskevich",
    "Мukhtar Dzhakishev": "Mukhtar Dzhakishev",
    "Еrmek Taychibekov": "Ermek Taychibekov",
}


class TestToSingleScript:
    def test_rewrites_the_reports_mixed_names_into_latin(self) -> None:
        for printed, latin in REPORT_HOMOGLYPH_NAMES.items():
            fixed, replaced = to_single_script(printed)
            assert fixed == latin
            assert fixed.isascii()
            assert replaced, printed

    def test_reports_each_replaced_letter(self) -> None:
        _, replaced = to_single_script("Маkhambet")
        assert [(r.original, r.replacement) for r in replaced] == [("М", "M"), ("а", "a")]
        assert "CYRILLIC CAPITAL LETTER EM" in replaced[0].describe()

    def test_leaves_whole_words_of_any_single_script_alone(self) -> None:
        for text in ("Сычев", "Thorbjørn Jagland", "Édouard Philippe", "Ra’ad Zeid Al-Hussein"):
            assert to_single_script(text) == (text, [])

    def test_rewrites_a_latin_letter_inside_a_cyrillic_word(self) -> None:
        fixed, _ = to_single_script("Mосква")  # Latin M, then Cyrillic
        assert fixed == "Москва"


class TestIsMixedScript:
    def test_detects_mixed_words_only(self) -> None:
        assert is_mixed_script("Маkhambet Abzhan")
        assert not is_mixed_script("Makhambet Abzhan")
        assert not is_mixed_script("Махамбет Makhambet")  # two words, each single-script


class TestSearchKey:
    def test_every_spelling_of_a_name_meets(self) -> None:
        keys = {search_key(s) for s in ("Маkhambet", "Makhambet", "MAKHAMBET", "Махамбет")}
        assert keys == {"makhambet"}

    def test_cyrillic_and_accents_fold_to_ascii(self) -> None:
        assert search_key("Сычев") == "sychev"
        assert search_key("Thorbjørn  Édouard") == "thorbjorn edouard"
        assert search_key("Ra’ad Zeid Al-Hussein") == "raad zeid al hussein"
