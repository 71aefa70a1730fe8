"""Writes testdata/chat_golden.json: each supported model's chat template
(from its GGUF) and what jinja2 renders from it for a set of conversations.
chat_template_test.cc checks glint's ChatTemplate against these renders, and
tests/e2e/test_tokenizer_ref.py checks the file against jinja2 again.

    .venv/bin/python tests/tokenizer/gen_chat_golden.py
"""
import json
import pathlib

import gguf
import jinja2

HERE = pathlib.Path(__file__).resolve().parent
MODELS = pathlib.Path("~/.cache/glint/models").expanduser()
FILES = {
    "smollm2": MODELS / "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen25coder": MODELS / "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf",
}

U = {"role": "user", "content": "Write a function that reverses a string."}
A = {"role": "assistant", "content": "def rev(s):\n    return s[::-1]\n"}
S = {"role": "system", "content": "You are a terse coding assistant."}
CONVERSATIONS = [
    [U],
    [S, U],
    [U, A, {"role": "user", "content": "Now in C++, please. Use std::string."}],
    [S, U, A, {"role": "user", "content": "Add tests"}],
    [{"role": "user", "content": ""}],
    [{"role": "user", "content": "unicode: héllo 你好 🙂\n\ttabs\r\nCRLF <|im_end|> inside"}],
    [U, {"role": "system", "content": "A second system message, not first."}],
    [U, {"role": "tool", "content": "{\"result\": 42}"}],
    [U, {"role": "tool", "content": "first"}, {"role": "tool", "content": "second"},
     {"role": "assistant", "content": "Both done."}],
    [{"role": "tool", "content": "tool first"}],
    [U, {"role": "assistant", "content": ""}],
    [S],
]


def main():
    out = {"templates": {}}
    for key, path in FILES.items():
        reader = gguf.GGUFReader(str(path))
        field = reader.fields["tokenizer.chat_template"]
        text = bytes(field.parts[field.data[0]]).decode("utf-8")
        tpl = jinja2.Environment().from_string(text)
        cases = []
        for conv in CONVERSATIONS:
            for gen in (True, False):
                cases.append({"messages": conv, "add_generation_prompt": gen,
                              "expected": tpl.render(messages=conv, add_generation_prompt=gen)})
        out["templates"][key] = {"template": text, "cases": cases}
    (HERE / "testdata").mkdir(exist_ok=True)
    (HERE / "testdata" / "chat_golden.json").write_text(
        json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
