// Package chatfmt renders chat conversations into model prompts and keeps
// them within the context window.
package chatfmt

import (
	"fmt"
	"strings"
)

// Role identifies who produced a message.
type Role string

const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content string
}

// Template describes how a model expects turns to be delimited.
type Template struct {
	Name        string
	TurnPrefix  map[Role]string
	TurnSuffix  string
	GenPrompt   string
	BOS         string
	MergeSystem bool
}

// ChatMLTemplate is the default template for models without their own.
var ChatMLTemplate = Template{
	Name: "chatml",
	TurnPrefix: map[Role]string{
		RoleSystem:    "<|im_start|>system\n",
		RoleUser:      "<|im_start|>user\n",
		RoleAssistant: "<|im_start|>assistant\n",
	},
	TurnSuffix: "<|im_end|>\n",
	GenPrompt:  "<|im_start|>assistant\n",
}

// Render formats msgs with t and appends the generation prompt.
func Render(t Template, msgs []Message) (string, error) {
	var b strings.Builder
	b.WriteString(t.BOS)
	for i, m := range msgs {
		if t.MergeSystem && m.Role == RoleSystem {
			if i+1 >= len(msgs) || msgs[i+1].Role != RoleUser {
				return "", fmt.Errorf("chatfmt: %s: system message must precede a user message", t.Name)
			}
			continue
		}
		prefix, ok := t.TurnPrefix[m.Role]
		if !ok {
			return "", fmt.Errorf("chatfmt: %s: unsupported role %q", t.Name, m.Role)
		}
		content := m.Content
		if t.MergeSystem && i > 0 && msgs[i-1].Role == RoleSystem {
			content = msgs[i-1].Content + "\n\n" + content
		}
		b.WriteString(prefix)
		b.WriteString(content)
		b.WriteString(t.TurnSuffix)
	}
	b.WriteString(t.GenPrompt)
	return b.String(), nil
}

// TruncateHistory drops the oldest turns until the conversation fits in budget
// tokens as measured by count. A leading system message is always kept, and so
// is the most recent turn, even if it alone exceeds the budget.
func TruncateHistory(msgs []Message, budget int, count func(string) int) []Message {
	if len(msgs) == 0 {
		return msgs
	}
	var system []Message
	rest := msgs
	if msgs[0].Role == RoleSystem {
		system = msgs[:1]
		rest = msgs[1:]
		budget -= count(msgs[0].Content)
	}
	start := len(rest)
	for start > 0 {
		cost := count(rest[start-1].Content)
		if cost > budget {
			break
		}
		budget -= cost
		start--
	}
	if start == len(rest) && len(rest) > 0 {
		start = len(rest) - 1
	}
	out := make([]Message, 0, len(system)+len(rest)-start)
	out = append(out, system...)
	return append(out, rest[start:]...)
}

// ApproxTokens is a cheap token estimate (about four bytes per token) used
// when the real tokenizer is not available.
func ApproxTokens(s string) int {
	return (len(s) + 3) / 4
}
