"""Localized fields must be in their language's script; technical terms in another script are tolerated."""

from __future__ import annotations

import pytest

from tasks.llm.parsing import ParseError, parse_model
from tasks.llm.schemas import Review, SummaryEn, SummaryZh, ZhReadingOut
from tasks.llm.scripts import CYRILLIC, HAN, LATIN, script_units, written_in


def test_units_count_han_per_character_and_other_words_per_run() -> None:
    assert script_units("基于Transformer的LLM推理") == {HAN: 5, LATIN: 2}
    assert script_units("Модель GPT-4o и fine-tuning, 5%") == {CYRILLIC: 2, LATIN: 2}  # GPT-4o, fine-tuning: 1 each
    assert script_units("3.14 — !") == {}


@pytest.mark.parametrize("text, script", [
    ("LLM учится у Transformer", CYRILLIC),  # as many terms as Russian words: a tie passes
    ("Авторы обучают LLM с помощью RLHF и проверяют её на бенчмарке MMLU.", CYRILLIC),
    ("作者用Transformer和LLM做了实验。", HAN),
    ("A new way to train LLMs (大模型) faster", LATIN),
    ("Jīntiān wǒmen dú yì piān xīn de lùnwén.", LATIN),  # pinyin
])
def test_terms_in_another_script_are_tolerated(text: str, script: str) -> None:
    assert written_in(text, script)


@pytest.mark.parametrize("text, script", [
    ("这篇论文提出了一种新的训练方法。", LATIN),  # an English field written in Chinese
    ("The paper proposes a new training method for large models.", CYRILLIC),
    ("The paper proposes a new training method, 新方法.", HAN),
    ("Статья о новом методе обучения моделей", LATIN),
    ("", LATIN),
    ("12345", HAN),
])
def test_a_text_mostly_in_another_script_is_rejected(text: str, script: str) -> None:
    assert not written_in(text, script)


EN = '{"title": "Cheaper answers", "desc": "The paper trains a small model to route tokens."}'
ZH_AS_EN = ('{"title": "更少计算，更好结果", '
            '"desc": "这篇论文提出了一种新的训练方法。实验表明模型在多个基准上有明显提升。"}')


def test_each_localized_schema_checks_its_script() -> None:
    assert parse_model(EN, SummaryEn).title == "Cheaper answers"
    with pytest.raises(ParseError, match=r"title.*must be written in English \(Latin script, not mostly Han\)"):
        parse_model(ZH_AS_EN, SummaryEn)
    assert parse_model(ZH_AS_EN, SummaryZh).title
    with pytest.raises(ParseError, match="must be written in Chinese"):
        parse_model(EN, SummaryZh)
    with pytest.raises(ParseError, match="must be written in Russian"):
        parse_model('{"emoji": "🚀", "title": "Cheaper answers", "desc": "Авторы обучают модель. Всё работает."}',
                    Review)
    text = "今天我们读一篇新的论文。"
    reading = {"text": text, "pinyin": "Jīntiān wǒmen dú yì piān xīn de lùnwén.", "translation": text,
               "vocab": [{"word": "论文", "pinyin": "lùnwén", "trans": "paper"}]}
    with pytest.raises(ValueError, match=r"(?s)translation.*must be written in English"):
        ZhReadingOut.model_validate(reading)
    reading["translation"] = "Today we read a new paper."
    assert ZhReadingOut.model_validate(reading).vocab[0].word == "论文"
