"""The tokenizer comparison corpus: hand-written code (code/*.txt, snippets
separated by lines starting with "=====") plus strings generated here, by
category. Deterministic: the same list every run.

    python corpus.py            # prints the count per category
    python corpus.py --dump     # prints every string as JSON lines
"""

import json
import pathlib
import random
import sys

HERE = pathlib.Path(__file__).resolve().parent


def _code_snippets():
    out = []
    for path in sorted((HERE / "code").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        parts = []
        cur = []
        for line in text.split("\n"):
            if line.startswith("====="):
                parts.append("\n".join(cur))
                cur = []
            else:
                cur.append(line)
        parts.append("\n".join(cur))
        for i, p in enumerate(parts):
            out.append((f"code/{path.stem}", p))
            # The same snippet with a leading space, CRLF line ends, and tabs
            # for indentation: the pre-tokenizers treat each differently.
            if i % 2 == 0:
                out.append((f"code/{path.stem}/crlf", p.replace("\n", "\r\n")))
            else:
                out.append((f"code/{path.stem}/tabs", p.replace("    ", "\t")))
    return out


def _contractions():
    subjects = ["I", "you", "they", "it", "we", "She", "HE", "THEY", "don", "Can", "O", "rock 'n"]
    suffixes = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'rE", "'ve", "'VE", "'m", "'M",
                "'ll", "'LL", "'Ll", "'d", "'D", "'x", "'"]
    out = []
    for i, s in enumerate(subjects):
        for j, suf in enumerate(suffixes):
            if (i + j) % 3 == 0:
                out.append(("contractions", f"{s}{suf} here"))
    out += [
        ("contractions", "I'm sure it's fine, isn't it? We'll see; they'd've known."),
        ("contractions", "DON'T SHOUT, IT'S RUDE. YOU'RE RIGHT, I'LL STOP. WE'VE SEEN IT'D END."),
        ("contractions", "'s 't 're 've 'm 'll 'd"),
        ("contractions", "'S'T'RE'VE'M'LL'D"),
        ("contractions", "l'été c'est l'heure d'aller à l'école"),
        ("contractions", "the dog's bone, the dogs' bones, o'clock, rock'n'roll"),
        ("contractions", "x = 'single' + \"double\" + '''triple'''"),
        ("contractions", "can\u2019t won\u2019t \u2018quoted\u2019"),
    ]
    return out


def _whitespace():
    out = []
    for n in range(1, 13):
        out.append(("whitespace", " " * n + "word"))
        out.append(("whitespace", "a" + " " * n + "b"))
    for n in (1, 2, 3, 5, 8):
        out.append(("whitespace", "x" + "\t" * n + "y"))
        out.append(("whitespace", "line" + "\n" * n + "next"))
        out.append(("whitespace", "line" + "\r\n" * n + "next"))
        out.append(("whitespace", " " * n))
        out.append(("whitespace", "\n" * n))
    out += [
        ("whitespace", "trailing   "),
        ("whitespace", "trailing\t\t"),
        ("whitespace", "trailing\n"),
        ("whitespace", "  \n  \n  x"),
        ("whitespace", " \t \t mixed"),
        ("whitespace", "\t\n\t\n"),
        ("whitespace", "a \n b \r\n c \r d"),
        ("whitespace", "\r\r\n\n\r"),
        ("whitespace", "\x0b\x0cvertical tab and form feed"),
        ("whitespace", "nbsp\u00a0here\u00a0\u00a0two"),
        ("whitespace", "ideographic\u3000space\u3000\u3000x"),
        ("whitespace", "line\u2028separator\u2029para"),
        ("whitespace", "next\u0085line"),
        ("whitespace", "thin\u2009space\u202fnarrow\u205fmath"),
        ("whitespace", "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom"),
        ("whitespace", "ogham\u1680space"),
        ("whitespace", "    " * 6 + "deeply_indented()"),
        ("whitespace", "\t" * 6 + "deeply_indented()"),
        ("whitespace", " " * 100),
        ("whitespace", "x" + " " * 300 + "y"),
        ("whitespace", "\x1c\x1d\x1e\x1f separators"),
    ]
    return out


def _numbers():
    out = [
        ("numbers", "1"), ("numbers", "12"), ("numbers", "123"), ("numbers", "1234"),
        ("numbers", "12345678901234567890123456789"),
        ("numbers", "3.14159265358979323846"),
        ("numbers", "-42 +7 1e10 6.022e23 1E-9"),
        ("numbers", "0xDEADBEEF 0b1010_1010 0o777 1_000_000"),
        ("numbers", "1,234,567.89 and 1.234.567,89"),
        ("numbers", "v1.2.3-rc.4+build.567"),
        ("numbers", "192.168.0.1:8080"),
        ("numbers", "2024-06-30T12:34:56.789Z"),
        ("numbers", "Arabic-Indic \u0660\u0661\u0662\u0663\u0664 and Devanagari \u0966\u0967\u0968"),
        ("numbers", "fullwidth \uff11\uff12\uff13\uff14"),
        ("numbers", "superscript x\u00b2 + y\u00b3 = z\u2074, fraction \u00bd \u00be"),
        ("numbers", "roman \u216b \u2163 circled \u2460\u2461\u2462"),
        ("numbers", "phone +1 (555) 123-4567"),
        ("numbers", "$1,000,000.00 \u20ac99 \u00a5500 \u00a310"),
        ("numbers", " 7 77 777 7777 77777"),
        ("numbers", "a1b22c333d4444"),
    ]
    rng = random.Random(1234)
    for _ in range(20):
        n = rng.randint(1, 40)
        out.append(("numbers", "".join(rng.choice("0123456789") for _ in range(n))))
    return out


def _cjk():
    return [("cjk", s) for s in [
        "你好，世界！",
        "今天天气很好，我们去公园散步吧。",
        "机器学习是人工智能的一个分支。",
        "def 函数(参数):\n    return 参数 * 2  # 返回两倍",
        "日本語のテキストです。カタカナとひらがなと漢字。",
        "東京都渋谷区 1-2-3",
        "ｶﾀｶﾅ半角 and ＡＢＣ全角",
        "한국어 문장입니다. 안녕하세요!",
        "서울특별시 강남구 테헤란로 123",
        "中文English混合123测试",
        "「引用」『二重』【括弧】〈山括弧〉",
        "变量名 = \"值\"; // 注释",
        "𠀀𠀁𪚥 (CJK Extension B)",
        "龘靐齉",
        "の",
        "ありがとうございました",
        "一二三四五六七八九十百千万",
        "Ｈｅｌｌｏ　Ｗｏｒｌｄ",
        "ㄅㄆㄇㄈ 注音",
        "中 文 空 格",
    ]]


def _emoji():
    return [("emoji", s) for s in [
        "😀", "😀😃😄😁", "Hello 👋 world 🌍!",
        "👨\u200d👩\u200d👧\u200d👦 family",
        "👩\u200d💻 coding, 🧑\u200d🚀 astronaut",
        "🏳\ufe0f\u200d🌈 🏴\u200d☠\ufe0f",
        "🇫🇷 🇯🇵 🇺🇸 🇩🇪🇬🇧",
        "🇫🇷🇯🇵🇺🇸",
        "👍🏻 👍🏼 👍🏽 👍🏾 👍🏿",
        "1\ufe0f\u20e3 #\ufe0f\u20e3 *\ufe0f\u20e3",
        "❤\ufe0f ❤ ♥ ☺\ufe0f",
        "🔥🔥🔥 fire",
        "emoji_in_code = '🚀'  # launch",
        "✅ done ❌ failed ⚠\ufe0f warning",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f scotland",
        "🫠🫥🫶 newer emoji",
        "(╯°□°)╯︵ ┻━┻",
        "¯\\_(ツ)_/¯",
        "★☆✓✗→←↑↓⇒∀∃∈∑∏√∞≠≤≥",
        "🐍 + 🦀 = ❤\ufe0f",
    ]]


def _marks():
    return [("marks", s) for s in [
        "e\u0301 (decomposed) vs \u00e9 (composed)",
        "cafe\u0301 na\u0131\u0308ve",
        "Tiếng Việt có dấu: Xin chào, tạm biệt",
        "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
        "हिन्दी देवनागरी लिपि",
        "ภาษาไทย สวัสดีครับ",
        "שָׁלוֹם עֲלֵיכֶם",
        "a\u0300\u0301\u0302\u0303\u0304 stacked",
        "\u0301 leading combining mark",
        "x\u20d7 vector arrow",
        "தமிழ் எழுத்து",
        "ক্ষ বাংলা",
    ]]


def _scripts():
    return [("scripts", s) for s in [
        "مرحبا بالعالم",
        "النص العربي مع English و123",
        "שלום עולם",
        "עברית with English mixed in",
        "\u202eRTL override\u202c and \u200fRLM",
        "Привет, мир! Как дела?",
        "Ελληνικά: Καλημέρα κόσμε",
        "Ünïcödé Ãççéñtš ÀÉÎÕÜ",
        "Straße, Größe, ǅemal, ﬁnance",
        "İstanbul ıi Iı",
        "ǈubljana ǋ ǲ titlecase",
        "Հայերեն ქართული",
        "አማርኛ ሰላም",
        "ᚠᚢᚦᚨᚱᚲ runes",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 𝒮𝒸𝓇𝒾𝓅𝓉",
        "mixed: hello Привет 你好 مرحبا שלום 🙂",
        "Ωmega ohm\u2126 Kelvin\u212a angstrom\u212b",
        "ſ long s and ꜱ small cap",
        "ʻOkina Hawaiʻi",
        "ǃXóõ click ǂ",
    ]]


def _specials():
    s = [
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>system\nYou are helpful.<|im_end|>",
        "<|endoftext|>",
        "text<|endoftext|>more text",
        "<|endoftext|><|endoftext|>",
        "<|im_start|><|im_end|>",
        "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n    return c<|fim_middle|>",
        "<|fim_prefix|><|fim_suffix|><|fim_middle|><|fim_pad|>",
        "<|repo_name|>glint\n<|file_sep|>src/main.cc\nint main() {}",
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
        "<repo_name>x<file_sep>y<filename>z<gh_stars>5",
        "<jupyter_start><jupyter_code>print(1)<jupyter_output>1",
        "<|im_start",
        "<|im_start|",
        "im_start|>",
        "< |im_start| >",
        "<|IM_START|>",
        "<<|im_start|>>",
        "<|im_start|><|im_start|>",
        " <|im_start|> spaced ",
        "\n<|im_end|>\n",
        "a<|im_end|>b<|im_start|>c",
        "<|vision_start|><|image_pad|><|vision_end|>",
        "[PAD151665] [PAD151700]",
        "<|object_ref_start|>the cat<|object_ref_end|>",
        "<s></s><unk><pad>",
        "<|begin_of_text|><|eot_id|>",
        "<|im_end|>",
        "```<|im_end|>```",
        "'<|endoftext|>'s",
    ]
    return [("specials", x) for x in s]


def _edge():
    return [("edge", s) for s in [
        " ", "  ", "\n", "\t", "a", "A", "'", "''", "'s", "\"", "\\", "\\n", "\x00",
        "\x01\x02\x03", "\x7f", "\u200b", "\ufeff", "\ufffd", ".", "...", "!!!???",
        "-", "--", "---", "=>", "->", "::", ";;", "{}", "[]", "()", "<>", "</>",
        "\ue000 private use", "\U0010fffd", "\U000e0001 tag",
    ]]


def _code_variants():
    """Programmatic code: identifiers, operators, indentation."""
    out = []
    names = ["foo", "fooBar", "FooBar", "foo_bar", "FOO_BAR", "__init__", "x1", "_", "camelCaseName",
             "HTTPServer", "parseJSON", "i18n", "utf8Decode", "MAX_SIZE"]
    ops = ["=", "==", "!=", "<=", ">=", "+=", "-=", "->", "=>", "::", "&&", "||", "<<", ">>", "**",
           "//", "%", "^", "~", "?.", "??", "...", "@", "#"]
    for i, n in enumerate(names):
        op = ops[i % len(ops)]
        out.append(("code/gen", f"{n} {op} {names[(i + 3) % len(names)]}({i}, '{n}')"))
        out.append(("code/gen", f"{n}{op}{names[(i + 5) % len(names)]}[{i * 7}]"))
    for indent in ("  ", "    ", "\t", "        "):
        for depth in (1, 2, 3):
            body = "\n".join(indent * d + f"if x{d} > {d}:" for d in range(depth))
            out.append(("code/indent", body + "\n" + indent * depth + "pass\n"))
    for op in ops:
        out.append(("code/ops", f"a{op}b a {op} b  a  {op}  b"))
    return out


def _random_mixes():
    """Seeded random strings over an alphabet of tricky characters."""
    alphabet = (list("abcXYZ019 '\t\n\r.,;:!?_-+*/\\\"(){}[]<>=#$%&|~`^@") +
                ["\u00a0", "\u3000", "é", "e\u0301", "ß", "Ω", "я", "你", "好", "の", "한", "ا",
                 "ש", "😀", "👍🏽", "🇫🇷", "\u200d", "\ufe0f", "²", "½", "٣", "\u0085", "\u2028",
                 "'s", "'LL", "  ", "\r\n", "<|im_end|>", "<|endoftext|>", "<|fim_prefix|>"])
    rng = random.Random(20240630)
    out = []
    for _ in range(150):
        n = rng.randint(1, 30)
        out.append(("random", "".join(rng.choice(alphabet) for _ in range(n))))
    return out


def load_corpus():
    items = (_code_snippets() + _contractions() + _whitespace() + _numbers() + _cjk() + _emoji() +
             _marks() + _scripts() + _specials() + _edge() + _code_variants() + _random_mixes())
    return items


if __name__ == "__main__":
    corpus = load_corpus()
    if "--dump" in sys.argv:
        for cat, text in corpus:
            print(json.dumps({"category": cat, "text": text}, ensure_ascii=False))
    else:
        from collections import Counter
        for cat, n in sorted(Counter(c.split("/")[0] for c, _ in corpus).items()):
            print(f"{cat:14s} {n}")
        print(f"{'total':14s} {len(corpus)}")
