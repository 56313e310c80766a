package starter

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrSourceExists is returned by AddSource when sources: already has the name.
var ErrSourceExists = errors.New("a source of that name exists")

// AddSource returns the configuration text with a source added as the last
// entry of sources:. block renders the entry with its key indented by the
// given number of spaces. The file's own lines stay as they are: the block
// goes in as text after the last source, before whatever follows sources:
// (a top-level key and the comments above it). Only a sources: written in
// flow style ({...}) makes it rewrite the file from its parsed form, which
// keeps the comments but not the layout. The caller validates the result.
func AddSource(text []byte, name string, block func(indent int) string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}

	if len(doc.Content) == 0 {
		return nil, errors.New("the file is empty; it needs repository and sources")
	}

	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("expected a mapping of keys (repository, sources, ...) at the top")
	}

	i := keyIndex(root, "sources")
	if i < 0 && root.Style&yaml.FlowStyle != 0 {
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "sources"}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"})
		i = len(root.Content) - 2
	}

	if i < 0 {
		return append(withNewline(text), []byte("\nsources:\n"+block(2))...), nil
	}

	v := root.Content[i+1]
	if v.Kind == yaml.MappingNode && keyIndex(v, name) >= 0 {
		return nil, ErrSourceExists
	}

	lines := strings.SplitAfter(string(withNewline(text)), "\n")
	keyLine := root.Content[i].Line

	switch {
	case root.Style&yaml.FlowStyle != 0:
		root.Style = 0
		return reencode(&doc, v, block(0))
	case v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0:
		return insertAt(lines, endOfSection(lines, root, i), block(v.Content[0].Column-1)), nil
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null" && nothingAfterKey(lines[keyLine-1]):
		return insertAt(lines, endOfSection(lines, root, i), block(2)), nil
	case v.Kind == yaml.MappingNode || v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return reencode(&doc, v, block(0))
	}

	return nil, fmt.Errorf("line %d: sources: expected a mapping of source names to sources", keyLine)
}

func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}

	return -1
}

func withNewline(text []byte) []byte {
	if len(text) > 0 && !bytes.HasSuffix(text, []byte("\n")) {
		return append(bytes.Clone(text), '\n')
	}

	return text
}

// nothingAfterKey reports whether a line holds a key and at most a comment
// (`sources:` with its entries on the next lines, or none yet).
func nothingAfterKey(line string) bool {
	_, rest, ok := strings.Cut(line, ":")
	rest = strings.TrimSpace(rest)

	return ok && (rest == "" || strings.HasPrefix(rest, "#"))
}

// endOfSection is the index of the line before which an entry of the i-th
// top-level key goes: the next top-level key, less the blank lines and
// top-level comments above it (they belong to it), or the end of the file.
func endOfSection(lines []string, root *yaml.Node, i int) int {
	end := len(lines)
	if i+2 < len(root.Content) {
		end = root.Content[i+2].Line - 1
	}

	for end > 0 {
		l := lines[end-1]
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#") {
			break
		}

		end--
	}

	return end
}

// insertAt puts block before lines[at], apart from its neighbours by a
// blank line.
func insertAt(lines []string, at int, block string) []byte {
	var b strings.Builder

	for _, l := range lines[:at] {
		b.WriteString(l)
	}

	if at > 0 && !strings.HasSuffix(strings.TrimSpace(lines[at-1]), ":") {
		b.WriteString("\n")
	}

	b.WriteString(block)

	if at < len(lines) && strings.TrimSpace(lines[at]) != "" {
		b.WriteString("\n")
	}

	for _, l := range lines[at:] {
		b.WriteString(l)
	}

	return []byte(b.String())
}

// reencode adds the entry to the parsed sources: and writes the whole
// document again.
func reencode(doc, sources *yaml.Node, block string) ([]byte, error) {
	var entry yaml.Node
	if err := yaml.Unmarshal([]byte(block), &entry); err != nil || len(entry.Content) == 0 {
		return nil, fmt.Errorf("the new source is not valid YAML: %w", err)
	}

	if sources.Kind != yaml.MappingNode {
		*sources = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: sources.Line}
	}

	sources.Style = 0
	sources.Content = append(sources.Content, entry.Content[0].Content...)

	var b bytes.Buffer

	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)

	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write the configuration: %w", err)
	}

	return b.Bytes(), enc.Close()
}
