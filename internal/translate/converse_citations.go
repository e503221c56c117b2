package translate

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
)

// Citations in answers. A Converse model asked for citations (documents
// with citations enabled) answers with citationsContent blocks: the
// generated text and, for each claim, where in which source it comes from.
// Anthropic's form of the same is a text block with citations. The
// locations map one to one, as Bedrock documents them for Claude:
//
//	documentChar          char_location           (start/end character)
//	documentPage          page_location           (start/end page number)
//	documentChunk         content_block_location  (start/end block index)
//	searchResultLocation  search_result_location  (result index, blocks)
//
// A location is a union: one with no member this package knows, or with
// more than one, is refused rather than guessed at. A web location has no
// Anthropic form without the search result's encrypted index, so an answer
// citing one is refused rather than shown without its sources. The other
// way, a Messages client sending such an answer back as its assistant
// turn, the text and citations become the citationsContent block again.

// converseCitations is a Converse citationsContent block.
type converseCitations struct {
	Content   []converseCitationText `json:"content"`
	Citations []converseCitation     `json:"citations"`
}

// converseCitationText is a piece of generated or cited content: a union
// whose only member this package knows is text. A piece without it (an
// image, say) has no Messages form and fails the answer.
type converseCitationText struct {
	Text *string `json:"text"`
}

// pieces joins the text of content pieces; bad is the index of the first
// piece without text, or -1.
func pieces(ps []converseCitationText) (text string, bad int) {
	var b strings.Builder
	for i, p := range ps {
		if p.Text == nil {
			return "", i
		}
		b.WriteString(*p.Text)
	}
	return b.String(), -1
}

// converseCitation is one Converse citation, or the citation of a
// contentBlockDelta event (whose sourceContent holds text deltas).
type converseCitation struct {
	Title         *string                  `json:"title,omitempty"`
	Source        *string                  `json:"source,omitempty"`
	SourceContent []converseCitationText   `json:"sourceContent,omitempty"`
	Location      converseCitationLocation `json:"location"`
}

// converseCitationLocation is a union: exactly one member is set.
type converseCitationLocation struct {
	DocumentChar         *converseSpan `json:"documentChar,omitempty"`
	DocumentPage         *converseSpan `json:"documentPage,omitempty"`
	DocumentChunk        *converseSpan `json:"documentChunk,omitempty"`
	SearchResultLocation *converseSpan `json:"searchResultLocation,omitempty"`
	Web                  *struct {
		URL    string `json:"url,omitempty"`
		Domain string `json:"domain,omitempty"`
	} `json:"web,omitempty"`
}

// converseSpan is a location's range within a document or search result.
type converseSpan struct {
	DocumentIndex     *int64 `json:"documentIndex,omitempty"`
	SearchResultIndex *int64 `json:"searchResultIndex,omitempty"`
	Start             *int64 `json:"start,omitempty"`
	End               *int64 `json:"end,omitempty"`
}

// anthropicCitation is one citation of a Messages text block (and the
// citation of a citations_delta).
type anthropicCitation struct {
	Type              string  `json:"type"`
	CitedText         string  `json:"cited_text"`
	DocumentIndex     *int64  `json:"document_index,omitempty"`
	DocumentTitle     *string `json:"document_title,omitempty"`
	StartCharIndex    *int64  `json:"start_char_index,omitempty"`
	EndCharIndex      *int64  `json:"end_char_index,omitempty"`
	StartPageNumber   *int64  `json:"start_page_number,omitempty"`
	EndPageNumber     *int64  `json:"end_page_number,omitempty"`
	Source            *string `json:"source,omitempty"`
	Title             *string `json:"title,omitempty"`
	SearchResultIndex *int64  `json:"search_result_index,omitempty"`
	StartBlockIndex   *int64  `json:"start_block_index,omitempty"`
	EndBlockIndex     *int64  `json:"end_block_index,omitempty"`
}

// decodeAnswerPart decodes a part of an answer leniently: a member v does
// not declare is ignored, so that a member an upstream adds tomorrow
// inside a part this package knows does not fail the whole answer. A
// location that sets no member this package knows still has no client
// form, and is refused.
func decodeAnswerPart(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }

// decodeStrict decodes raw into v, refusing members v does not declare.
func decodeStrict(raw json.RawMessage, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// anthropicCitationFrom converts one Converse citation. bad names the
// member Anthropic cannot express (the location, or a piece of the cited
// text that is not text), or is empty.
func anthropicCitationFrom(c *converseCitation) (out anthropicCitation, bad string) {
	cited, i := pieces(c.SourceContent)
	if i >= 0 {
		return out, at("sourceContent", i)
	}
	out.CitedText = cited
	l := c.Location
	if n := countSet(l.DocumentChar != nil, l.DocumentPage != nil, l.DocumentChunk != nil, l.SearchResultLocation != nil, l.Web != nil); n != 1 {
		return out, "location" // a union: none or two would be a guess
	}
	switch {
	case l.DocumentChar != nil && l.DocumentChar.SearchResultIndex == nil:
		out.Type, out.DocumentIndex, out.DocumentTitle = "char_location", l.DocumentChar.DocumentIndex, c.Title
		out.StartCharIndex, out.EndCharIndex = l.DocumentChar.Start, l.DocumentChar.End
	case l.DocumentPage != nil && l.DocumentPage.SearchResultIndex == nil:
		out.Type, out.DocumentIndex, out.DocumentTitle = "page_location", l.DocumentPage.DocumentIndex, c.Title
		out.StartPageNumber, out.EndPageNumber = l.DocumentPage.Start, l.DocumentPage.End
	case l.DocumentChunk != nil && l.DocumentChunk.SearchResultIndex == nil:
		out.Type, out.DocumentIndex, out.DocumentTitle = "content_block_location", l.DocumentChunk.DocumentIndex, c.Title
		out.StartBlockIndex, out.EndBlockIndex = l.DocumentChunk.Start, l.DocumentChunk.End
	case l.SearchResultLocation != nil && l.SearchResultLocation.DocumentIndex == nil:
		out.Type, out.Source, out.Title = "search_result_location", c.Source, c.Title
		out.SearchResultIndex, out.StartBlockIndex, out.EndBlockIndex = l.SearchResultLocation.SearchResultIndex, l.SearchResultLocation.Start, l.SearchResultLocation.End
	default:
		return out, "location"
	}
	if out.Type != "search_result_location" && c.Source != nil {
		return out, "source" // a document citation has no source member to carry it
	}
	return out, ""
}

// citationsBlock converts a Converse citationsContent block to a Messages
// text block with its citations. In an answer (strict false) members this
// package does not know are ignored; in a request (an assistant turn sent
// back, strict) they are refused, not left behind.
func citationsBlock(r refuser, p string, raw json.RawMessage, strict bool) (anthropic.Block, error) {
	var cc converseCitations
	decode := decodeAnswerPart
	if strict {
		decode = decodeStrict
	}
	if err := decode(raw, &cc); err != nil {
		return anthropic.Block{}, r.because(p, "a citations block this gateway cannot read")
	}
	text, bad := pieces(cc.Content)
	if bad >= 0 {
		return anthropic.Block{}, r.because(at(p+".content", bad), "a piece of the answer that is not text has no Messages form")
	}
	cites := make([]anthropicCitation, 0, len(cc.Citations))
	for i := range cc.Citations {
		c, bad := anthropicCitationFrom(&cc.Citations[i])
		if bad != "" {
			return anthropic.Block{}, r.because(at(p+".citations", i)+"."+bad, citationReason(bad))
		}
		cites = append(cites, c)
	}
	b, _ := json.Marshal(cites)
	return anthropic.Block{Type: anthropic.BlockText, Text: text, Citations: b}, nil
}

// citationReason says why the member bad of a citation has no Messages
// form (bad as anthropicCitationFrom names it).
func citationReason(bad string) string {
	switch {
	case bad == "location":
		return "a citation location with no Messages form"
	case bad == "source":
		return "a document citation has no source in Messages"
	}
	return "a piece of cited content that is not text has no Messages form"
}

// citationDelta converts the citation of a Converse contentBlockDelta to
// the citation of a Messages citations_delta.
func citationDelta(raw json.RawMessage) (json.RawMessage, error) {
	var c converseCitation
	if err := decodeAnswerPart(raw, &c); err != nil {
		return nil, failAnswer("unsupported", "a citation this gateway cannot read")
	}
	ac, bad := anthropicCitationFrom(&c)
	if bad != "" {
		return nil, failAnswer("unsupported", "a citation whose "+bad+" has no Messages form")
	}
	b, _ := json.Marshal(ac)
	return b, nil
}

// citationMembers are the members each Messages citation type defines
// besides type, for the citations this package converts back to Converse.
var citationMembers = map[string][]string{
	"char_location":          {"cited_text", "document_index", "document_title", "start_char_index", "end_char_index"},
	"page_location":          {"cited_text", "document_index", "document_title", "start_page_number", "end_page_number"},
	"content_block_location": {"cited_text", "document_index", "document_title", "start_block_index", "end_block_index"},
	"search_result_location": {"cited_text", "source", "title", "search_result_index", "start_block_index", "end_block_index"},
}

// citationRequired are the members without which a citation says not
// where it points: its document or search result, and its range.
var citationRequired = map[string][]string{
	"char_location":          {"document_index", "start_char_index", "end_char_index"},
	"page_location":          {"document_index", "start_page_number", "end_page_number"},
	"content_block_location": {"document_index", "start_block_index", "end_block_index"},
	"search_result_location": {"search_result_index", "start_block_index", "end_block_index"},
}

// webCitation is the web location Messages cites web search results with;
// Converse has no form for it (see converseCitationsFrom).
const webCitation = "web_search_result_location"

// checkCitations checks the citations of a Messages text block sent back
// where they have no form (towards Chat Completions, which then leaves
// them out): a list of citations of the types and members an answer
// carries, each saying where it points. p is the path of the member.
func checkCitations(r refuser, p string, raw json.RawMessage) error {
	if !hasCitations(raw) {
		return nil
	}
	return eachObject(r, p, "citations", "a citation", raw, func(q, typ string, members map[string]json.RawMessage) error {
		allowed, required := citationMembers[typ], citationRequired[typ]
		if typ == webCitation {
			allowed, required = []string{"cited_text", "url", "title", "encrypted_index"}, []string{"url"}
		}
		if allowed == nil {
			return r.because(q+".type", "expressible: char_location, page_location, content_block_location, search_result_location, "+webCitation)
		}
		return checkMembers(r, q, typ+" citations", members, allowed, required)
	})
}

// eachObject checks the list member at p (what names it) with check, item
// by item, given each item's path, type and members; it refuses a member
// that is not a list, and an item (an names one) that is not an object.
func eachObject(r refuser, p, what, an string, raw json.RawMessage, check func(q, typ string, members map[string]json.RawMessage) error) error {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return r.because(p, what+" must be a list")
	}
	for i, item := range list {
		q := at(p, i)
		var members map[string]json.RawMessage
		var typ struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(item, &members) != nil || members == nil || json.Unmarshal(item, &typ) != nil {
			return r.because(q, an+" is an object")
		}
		if err := check(q, typ.Type, members); err != nil {
			return err
		}
	}
	return nil
}

// checkMembers refuses a member of an object at p that allowed does not
// list (unless null), and a member of required that is missing or null.
func checkMembers(r refuser, p, what string, members map[string]json.RawMessage, allowed, required []string) error {
	for _, k := range slices.Sorted(maps.Keys(members)) {
		if k != "type" && !slices.Contains(allowed, k) && present(members[k]) {
			return r.because(p+"."+clipName(k), "not a member of "+what)
		}
	}
	for _, k := range required {
		if !present(members[k]) {
			return r.because(p+"."+k, "required in "+what)
		}
	}
	return nil
}

// checkAnnotations checks the annotations of a Chat Completions assistant
// message sent back (left out: a request has no form for them): a list
// of url_citation annotations as an answer carries them. p is the path of
// the member.
func checkAnnotations(r refuser, p string, raw json.RawMessage) error {
	if !present(raw) {
		return nil
	}
	return eachObject(r, p, "annotations", "an annotation", raw, func(q, typ string, members map[string]json.RawMessage) error {
		if typ != "url_citation" {
			return r.because(q+".type", "expressible: url_citation")
		}
		if err := checkMembers(r, q, "url_citation annotations", members, []string{"url_citation"}, []string{"url_citation"}); err != nil {
			return err
		}
		var cite map[string]json.RawMessage
		if json.Unmarshal(members["url_citation"], &cite) != nil || cite == nil {
			return r.because(q+".url_citation", "an object")
		}
		return checkMembers(r, q+".url_citation", "url citations", cite, []string{"url", "title", "start_index", "end_index"}, []string{"url"})
	})
}

// converseCitationsFrom converts the text and citations of a Messages
// text block (an assistant turn sending back an earlier answer) to a
// Converse citationsContent block: the inverse of citationsBlock, so that
// an answer shown to a Messages client goes back to the model as it came.
// p is the path of the citations member. A member the citation type does
// not define is refused unless null; a web location is refused: Converse's
// web location has no member for the search result's encrypted index.
func converseCitationsFrom(r refuser, p, text string, raw json.RawMessage) (json.RawMessage, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, r.because(p, "citations must be a list")
	}
	out := converseCitations{Content: []converseCitationText{{Text: &text}}, Citations: make([]converseCitation, 0, len(list))}
	for i, item := range list {
		c, err := converseCitationFrom(r, at(p, i), item)
		if err != nil {
			return nil, err
		}
		out.Citations = append(out.Citations, c)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, r.because(p, "a citation this gateway cannot read")
	}
	return b, nil
}

// converseCitationFrom converts one Messages citation at path q to a
// Converse citation (of a citationsContent block, or of a stream's
// contentBlockDelta: the shapes are the same).
func converseCitationFrom(r refuser, q string, item json.RawMessage) (converseCitation, error) {
	var members map[string]json.RawMessage
	var ac anthropicCitation
	if json.Unmarshal(item, &members) != nil || members == nil || json.Unmarshal(item, &ac) != nil {
		return converseCitation{}, r.because(q, "a citation this gateway cannot read")
	}
	allowed, ok := citationMembers[ac.Type]
	if !ok {
		return converseCitation{}, r.because(q+".type", "expressible: char_location, page_location, content_block_location, search_result_location")
	}
	if err := checkMembers(r, q, ac.Type+" citations", members, allowed, citationRequired[ac.Type]); err != nil {
		return converseCitation{}, err
	}
	c := converseCitation{}
	if ac.CitedText != "" {
		c.SourceContent = []converseCitationText{{Text: &ac.CitedText}}
	}
	switch ac.Type {
	case "char_location":
		c.Title, c.Location.DocumentChar = ac.DocumentTitle, &converseSpan{DocumentIndex: ac.DocumentIndex, Start: ac.StartCharIndex, End: ac.EndCharIndex}
	case "page_location":
		c.Title, c.Location.DocumentPage = ac.DocumentTitle, &converseSpan{DocumentIndex: ac.DocumentIndex, Start: ac.StartPageNumber, End: ac.EndPageNumber}
	case "content_block_location":
		c.Title, c.Location.DocumentChunk = ac.DocumentTitle, &converseSpan{DocumentIndex: ac.DocumentIndex, Start: ac.StartBlockIndex, End: ac.EndBlockIndex}
	case "search_result_location":
		c.Title, c.Source = ac.Title, ac.Source
		c.Location.SearchResultLocation = &converseSpan{SearchResultIndex: ac.SearchResultIndex, Start: ac.StartBlockIndex, End: ac.EndBlockIndex}
	}
	return c, nil
}

// converseCitationDelta converts the citation of a Messages
// citations_delta to the citation of a Converse contentBlockDelta. One
// Converse cannot express (a web location) fails the answer naming the
// member, as the whole answer is refused.
func converseCitationDelta(raw json.RawMessage) (json.RawMessage, error) {
	c, err := converseCitationFrom(refuser(targetConverse), "citation", raw)
	if err != nil {
		return nil, failAnswer("unsupported", err.Error()) // names the member and fixed text only
	}
	b, _ := json.Marshal(c)
	return b, nil
}

// countSet returns how many of set are true.
func countSet(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

// citationsText returns the generated text of a Converse citationsContent
// block: what an OpenAI model, which has no citation form in a request,
// receives of an earlier cited answer.
func citationsText(r refuser, p string, raw json.RawMessage) (string, error) {
	var cc converseCitations
	if err := decodeStrict(raw, &cc); err != nil {
		return "", r.because(p, "a citations block this gateway cannot read")
	}
	text, bad := pieces(cc.Content)
	if bad >= 0 {
		return "", r.because(at(p+".content", bad), "only text pieces here")
	}
	return text, nil
}
