package wecom

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// Rendering limits.
const (
	// maxReplyParts bounds how many messages one reply becomes: WeCom silently drops more
	// than 30 messages a minute to one member, so a long list is shortened with a
	// "…还有 N 行" / "… N more" line instead of flooding the chat.
	maxReplyParts = 5
	// maxCardFields is WeCom's limit of horizontal_content_list rows.
	maxCardFields = 6
	// maxCardButtons is WeCom's limit of button_list entries.
	maxCardButtons = 6
	// cardTitleChars and cardSubTitleChars are what WeCom's client shows of a card's
	// title and grey sub-title ("建议不超过"): it clips the rest without a mark, so the
	// bot cuts first and ends the text with "…". cardSubTitleBytes bounds the packing.
	cardTitleChars    = 36
	cardSubTitleChars = 160
	cardSubTitleBytes = 512
	// replaceNameBytes is the longest single-line result shown as greyed buttons
	// (button.replace_name); a longer result replaces the whole card.
	replaceNameBytes = 60
	// harmlessCardURL is where tapping a text_notice card leads when the reply has no
	// link: WeCom requires a card_action on text_notice cards.
	harmlessCardURL = "https://work.weixin.qq.com"
	// jumpTitleRunes is WeCom's soft limit of a jump_list title on app cards (18).
	jumpTitleRunes = 18
	// maxLinkURLBytes keeps a link inside the smallest URL limit WeCom documents (40039:
	// 1024 bytes); a longer link is left out rather than failing the whole card.
	maxLinkURLBytes = 1024
)

const ellipsis = "…"

// packSubTitle packs the lines and the tail into one sub-title of at most
// cardSubTitleChars characters, shortened with "N more" like a message part: packing
// works in bytes, so the byte limit shrinks until the characters fit.
func packSubTitle(lang string, lines, tail []string, omitted int) string {
	lines, more := withOmitted(lines, omitted, func(n int) string { return moreLinesText(lang, n) })
	for limit := cardSubTitleBytes; limit > 0; {
		parts := packParts("", "", lines, tail, limit, 1, more)
		if len(parts) == 0 {
			return ""
		}
		n := utf8.RuneCountInString(parts[0])
		if n <= cardSubTitleChars {
			return parts[0]
		}
		limit = min(limit-1, limit*cardSubTitleChars/n)
	}
	return ""
}

// withOmitted ends body with the "N more" line of the omitted lines, and returns a more
// that counts them in when packing cuts earlier (that line is then among the cut ones).
func withOmitted(body []string, omitted int, more func(int) string) ([]string, func(int) string) {
	if omitted <= 0 {
		return body, more
	}
	return append(body, more(omitted)), func(n int) string { return more(n - 1 + omitted) }
}

// cutChars returns s cut to at most n characters, the last of them "…" when cut.
func cutChars(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + ellipsis
}

// Truncate returns s cut to at most max bytes. A cut text ends in "…", is cut on a UTF-8
// character boundary and, when a line break lies in the second half of the kept text, right
// after that line break so that no line is cut in half. WeCom itself cuts content at its
// byte limit, possibly inside a character.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	if max <= len(ellipsis) {
		return s[:runeCut(s, max)]
	}
	limit := max - len(ellipsis)
	cut := runeCut(s, limit)
	if nl := strings.LastIndexByte(s[:cut], '\n'); nl >= 0 && nl >= limit/2 {
		return s[:nl+1] + ellipsis
	}
	return s[:cut] + ellipsis
}

// runeCut returns the largest i <= limit (limit < len(s)) that starts a UTF-8 character.
// For invalid UTF-8 it steps back at most 3 bytes.
func runeCut(s string, limit int) int {
	for i := limit; i >= 0 && i > limit-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return limit
}

// renderLang normalises a language setting: "en" or the default "zh".
func renderLang(lang string) string {
	if strings.EqualFold(strings.TrimSpace(lang), "en") {
		return "en"
	}
	return "zh"
}

func moreLinesText(lang string, n int) string {
	if lang == "en" {
		return fmt.Sprintf("… %d more", n)
	}
	return fmt.Sprintf("…还有 %d 行", n)
}

func continuedSuffix(lang string) string {
	if lang == "en" {
		return " (cont.)"
	}
	return "（续）"
}

func fieldText(lang string, f chat.Field) string {
	switch {
	case f.Label == "":
		return f.Value
	case lang == "en":
		return f.Label + ": " + f.Value
	default:
		return f.Label + "：" + f.Value
	}
}

// confirmInstruction is the text-mode way to confirm: WeChat's plugin shows no cards.
func confirmInstruction(lang, code string) string {
	if lang == "en" {
		return fmt.Sprintf("Reply `confirm %s` to go ahead or `cancel %s` to drop it.", code, code)
	}
	return fmt.Sprintf("回复「确认 %s」执行，「取消 %s」放弃。", code, code)
}

// usableLink reports whether l can go into a WeCom message: WeCom refuses a URL
// without http:// or https:// (45034) and, somewhere, one longer than 1024 bytes (40039).
func usableLink(l chat.Link) bool {
	u := strings.ToLower(l.URL)
	return (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) &&
		len(l.URL) <= maxLinkURLBytes && !strings.ContainsAny(l.URL, " \n")
}

func linkText(lang string, l chat.Link) string {
	if l.Text != "" {
		return l.Text
	}
	if lang == "en" {
		return "Open"
	}
	return "打开"
}

// cutRunes cuts s to at most n characters, ending in "…" when cut.
func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + ellipsis
}

// plainText drops the markdown bold markers commands use for headings, so that a text
// message (reply_mode text, WeChat's plugin) never shows "**节点**".
var plainText = strings.NewReplacer("**", "").Replace

func severitySource(lang string, rep chat.Reply) *CardSource {
	zh := lang != "en"
	pick := func(z, e string) string {
		if zh {
			return z
		}
		return e
	}
	switch rep.Severity {
	case chat.SeverityOK:
		return &CardSource{Desc: pick("成功", "Done"), DescColor: 3}
	case chat.SeverityWarning:
		return &CardSource{Desc: pick("警告", "Warning"), DescColor: 2}
	case chat.SeverityError:
		return &CardSource{Desc: pick("错误", "Error"), DescColor: 2}
	}
	if rep.Kind == chat.ReplyConfirm {
		return &CardSource{Desc: pick("待确认", "Please confirm"), DescColor: 1}
	}
	return nil
}

// partBuilder assembles one message out of lines joined by "\n" within max bytes.
type partBuilder struct {
	b   strings.Builder
	n   int // lines written
	max int
}

func (p *partBuilder) add(s string) {
	if p.n > 0 {
		p.b.WriteByte('\n')
	}
	p.b.WriteString(s)
	p.n++
}

// room is how many bytes the next line may have.
func (p *partBuilder) room() int {
	if p.n == 0 {
		return p.max
	}
	return p.max - p.b.Len() - 1
}

func joinedLen(lines []string) int {
	if len(lines) == 0 {
		return 0
	}
	n := len(lines) - 1
	for _, l := range lines {
		n += len(l)
	}
	return n
}

// packParts lays out a header, body lines and tail lines as at most maxParts messages of at
// most maxBytes each. The first message starts with head, later ones with contHead. Lines
// are never cut in half unless one line alone does not fit a message. When the body does
// not fit, the last message ends with more(n) for the n lines left out, then the tail
// (footer, confirmation hint), which is always kept.
func packParts(head, contHead string, body, tail []string, maxBytes, maxParts int, more func(int) string) []string {
	maxParts = max(maxParts, 1)
	tailText := Truncate(strings.Join(tail, "\n"), maxBytes/2)
	head = Truncate(head, maxBytes/4)
	contHead = Truncate(contHead, maxBytes/4)
	if head == "" && tailText == "" && len(body) == 0 {
		return nil
	}
	var parts []string
	i := 0
	for {
		p := &partBuilder{max: maxBytes}
		h := head
		if len(parts) > 0 {
			h = contHead
		}
		if h != "" {
			p.add(h)
		}
		headerOnly := p.n
		tailCost := 0
		if tailText != "" {
			tailCost = len(tailText) + 1
		}
		if len(parts) == maxParts-1 {
			// Last allowed message: everything left, or as much as fits plus "N more".
			if joinedLen(body[i:])+tailCost <= p.room() {
				for ; i < len(body); i++ {
					p.add(body[i])
				}
			} else {
				for i < len(body) {
					reserve := tailCost
					if rest := len(body) - i - 1; rest > 0 {
						reserve += len(more(rest)) + 1
					}
					room := p.room() - reserve
					if len(body[i]) <= room {
						p.add(body[i])
						i++
						continue
					}
					if p.n == headerOnly && room > len(ellipsis) {
						p.add(Truncate(body[i], room))
						i++
						continue
					}
					break
				}
				if i < len(body) {
					p.add(more(len(body) - i))
				}
			}
			if tailText != "" {
				p.add(tailText)
			}
			// Only with absurdly small limits can the "more" line and the tail overflow.
			return append(parts, Truncate(p.b.String(), maxBytes))
		}
		for i < len(body) {
			if len(body[i]) <= p.room() {
				p.add(body[i])
				i++
				continue
			}
			if p.n == headerOnly {
				p.add(Truncate(body[i], p.room()))
				i++
				continue
			}
			break
		}
		if i == len(body) && (tailText == "" || len(tailText) <= p.room()) {
			if tailText != "" {
				p.add(tailText)
			}
			// Only with absurdly small limits can the "more" line and the tail overflow.
			return append(parts, Truncate(p.b.String(), maxBytes))
		}
		parts = append(parts, p.b.String())
	}
}

func markdownTitle(rep chat.Reply) string {
	if rep.Title == "" {
		return ""
	}
	t := "**" + rep.Title + "**"
	switch rep.Severity {
	case chat.SeverityOK:
		return `<font color="info">` + t + `</font>`
	case chat.SeverityWarning, chat.SeverityError:
		return `<font color="warning">` + t + `</font>`
	}
	return t
}

// markdownLabel keeps brackets in a link label from ending the label early.
var markdownLabel = strings.NewReplacer("[", "［", "]", "］").Replace

func greyMarkdown(s string) string { return `<font color="comment">` + s + `</font>` }

// RenderMarkdown renders a reply as WeCom markdown (lists, summaries): a bold title coloured
// by severity, fields as quoted "label: value" lines, the body lines, the footer in grey.
// The result is split into messages of at most maxBytes on line boundaries; beyond five
// messages the rest is summarised as "…还有 N 行" / "… N more".
func RenderMarkdown(rep chat.Reply, lang string, maxBytes int) []string {
	lang = renderLang(lang)
	body := make([]string, 0, len(rep.Fields)+len(rep.Lines))
	for _, f := range rep.Fields {
		body = append(body, "> "+fieldText(lang, f))
	}
	body = append(body, rep.Lines...)
	var tail []string
	if usableLink(rep.Link) {
		tail = append(tail, "["+markdownLabel(linkText(lang, rep.Link))+"]("+rep.Link.URL+")")
	}
	if rep.Kind == chat.ReplyConfirm && rep.Code != "" {
		tail = append(tail, confirmInstruction(lang, rep.Code))
	}
	if rep.Footer != "" {
		tail = append(tail, greyMarkdown(rep.Footer))
	}
	cont := ""
	if rep.Title != "" {
		cont = "**" + rep.Title + "**" + continuedSuffix(lang)
	}
	body, more := withOmitted(body, rep.Omitted, func(n int) string { return greyMarkdown(moreLinesText(lang, n)) })
	return packParts(markdownTitle(rep), cont, body, tail, maxBytes, maxReplyParts, more)
}

// RenderText renders a reply as plain text (reply_mode text, and short answers in card
// mode): title, "label: value" fields, body lines, footer. A confirmation becomes a line
// asking to reply "确认 <Code>" / "confirm <Code>". Split like RenderMarkdown.
func RenderText(rep chat.Reply, lang string, maxBytes int) []string {
	lang = renderLang(lang)
	body := make([]string, 0, len(rep.Fields)+len(rep.Lines))
	for _, f := range rep.Fields {
		body = append(body, plainText(fieldText(lang, f)))
	}
	for _, l := range rep.Lines {
		body = append(body, plainText(l))
	}
	var tail []string
	if usableLink(rep.Link) {
		tail = append(tail, plainText(fieldText(lang, chat.Field{Label: linkText(lang, rep.Link), Value: rep.Link.URL})))
	}
	if rep.Kind == chat.ReplyConfirm && rep.Code != "" {
		tail = append(tail, confirmInstruction(lang, rep.Code))
	}
	if rep.Footer != "" {
		tail = append(tail, plainText(rep.Footer))
	}
	title := plainText(rep.Title)
	cont := ""
	if title != "" {
		cont = title + continuedSuffix(lang)
	}
	body, more := withOmitted(body, rep.Omitted, func(n int) string { return moreLinesText(lang, n) })
	return packParts(title, cont, body, tail, maxBytes, maxReplyParts, more)
}

// RenderCard renders a reply as a template card. A reply with buttons becomes a
// button_interaction card with taskID (which must be fresh for every card) and at most six
// buttons as given; anything else becomes a text_notice card. Fields fill the card's
// key/value rows (six at most; the rest, the body lines and the footer go to the grey
// sub-title, shortened with "N more"). taskID is ignored for text_notice cards.
func RenderCard(rep chat.Reply, taskID string, lang string) TemplateCard {
	lang = renderLang(lang)
	title, lines := rep.Title, rep.Lines
	if title == "" && len(lines) > 0 {
		title, lines = lines[0], lines[1:]
	}
	card := TemplateCard{
		Source:    severitySource(lang, rep),
		MainTitle: &CardTitle{Title: cutChars(plainText(title), cardTitleChars)},
	}
	fields := rep.Fields
	var sub []string
	if len(fields) > maxCardFields {
		for _, f := range fields[maxCardFields:] {
			sub = append(sub, fieldText(lang, f))
		}
		fields = fields[:maxCardFields]
	}
	for _, f := range fields {
		card.HorizontalContentList = append(card.HorizontalContentList, HorizontalContent{KeyName: f.Label, Value: f.Value})
	}
	for _, l := range lines {
		sub = append(sub, plainText(l))
	}
	interactive := len(rep.Buttons) > 0
	var tail []string
	if rep.Kind == chat.ReplyConfirm && !interactive && rep.Code != "" {
		tail = append(tail, confirmInstruction(lang, rep.Code))
	}
	if rep.Footer != "" {
		tail = append(tail, rep.Footer)
	}
	card.SubTitleText = packSubTitle(lang, sub, tail, rep.Omitted)
	link := usableLink(rep.Link)
	if interactive {
		card.CardType = CardButtonInteraction
		card.TaskID = taskID
		for _, b := range rep.Buttons[:min(len(rep.Buttons), maxCardButtons)] {
			card.ButtonList = append(card.ButtonList, CardButton{Text: b.Text, Style: b.Style, Key: b.Key})
		}
		// button_interaction documents card_action (optional) but no jump_list.
		if link {
			card.CardAction = &CardAction{Type: 1, URL: rep.Link.URL}
		}
		return card
	}
	card.CardType = CardTextNotice
	card.CardAction = &CardAction{Type: 1, URL: harmlessCardURL}
	if link {
		card.CardAction.URL = rep.Link.URL
		card.JumpList = []CardJump{{Type: 1, Title: cutRunes(linkText(lang, rep.Link), jumpTitleRunes), URL: rep.Link.URL}}
	}
	return card
}

// Replier delivers chat.Reply values to one WeCom user through a Client, in card mode
// (template cards for objects and confirmations, markdown for lists, text for short
// answers) or text mode (plain text only, for WeChat's plugin, which shows no cards).
type Replier struct {
	c         *Client
	textMode  bool
	lang      string
	log       *zap.Logger
	newTaskID func() string
	budget    *Budget
}

var _ chat.Replier = (*Replier)(nil)

// NewReplier returns a Replier. mode is "text" or "card" (the default for anything else);
// lang is "en" or "zh" (the default). It only shapes what the bot itself adds ("N more",
// the confirmation hint): the reply's texts arrive already in the user's language. Its
// send budget is WeCom's (30 a minute, 1000 an hour per member) until UseBudget.
func NewReplier(c *Client, mode string, lang string, log *zap.Logger) *Replier {
	if log == nil {
		log = zap.NewNop()
	}
	return &Replier{
		c:         c,
		textMode:  strings.EqualFold(strings.TrimSpace(mode), "text"),
		lang:      renderLang(lang),
		log:       log,
		newTaskID: newCardTaskID,
		budget:    NewBudget(memberPerMinute, time.Minute, nil),
	}
}

// UseBudget makes the Replier count its messages in b, the budget every sender of app
// messages to members shares (pushes too); nil turns the budget off (load tests).
func (r *Replier) UseBudget(b *Budget) { r.budget = b }

// newCardTaskID returns a fresh task_id: WeCom refuses one it has seen for the app, and it
// allows at most 128 bytes of [0-9A-Za-z_-@].
func newCardTaskID() string { return "ops_" + rand.Text() }

// delayNote tells the user that the message waited d for room in WeCom's per-member limits.
func delayNote(lang string, d time.Duration) string {
	sec := int(d.Round(time.Second) / time.Second)
	if lang == "en" {
		return fmt.Sprintf("(delayed %s by WeCom's limit of 30 messages a minute and 1000 an hour per member)",
			time.Duration(sec)*time.Second)
	}
	wait := fmt.Sprintf("%d 秒", sec)
	if sec >= 60 {
		wait = fmt.Sprintf("%d 分 %d 秒", sec/60, sec%60)
	}
	return "（企业微信限制每人每分钟 30 条、每小时 1000 条消息，本条延迟 " + wait + " 送达）"
}

// Reply sends rep to user. With rep.UpdateCode in card mode it first tries to update the
// clicked card once (a short text result greys its buttons, a card result replaces it) and
// sends the reply as a new message when that fails. Long replies become several messages.
// Each message first waits for room in the member's budget; one that waited LongWait or
// more says so.
func (r *Replier) Reply(ctx context.Context, user string, rep chat.Reply) error {
	to := []string{user}
	if rep.Image != nil {
		var err error
		if rep, err = r.sendImage(ctx, user, rep); err != nil {
			return err
		}
	}
	if !r.textMode && rep.UpdateCode != "" {
		updated, err := r.updateCard(ctx, user, rep)
		if updated {
			return nil
		}
		if err != nil {
			r.log.Warn("wecom: updating the clicked card failed, sending the reply as a new message", zap.Error(err))
		}
		rep.UpdateCode = ""
	}
	waited, err := r.budget.Wait(ctx, user)
	if err != nil {
		return err
	}
	if waited >= LongWait {
		rep.Footer = strings.TrimSpace(delayNote(r.lang, waited) + "\n" + rep.Footer)
	}
	if r.textMode {
		if rep.Kind == chat.ReplyConfirm && rep.Code == "" {
			r.log.Warn("wecom: confirmation without a code in text mode: the user cannot confirm it")
		}
		return r.sendParts(ctx, to, "text", RenderText(rep, r.lang, MaxTextBytes))
	}
	switch rep.Kind {
	case chat.ReplyCard, chat.ReplyConfirm:
		// Every card gets a task_id, interactive or not: a send retried after its answer
		// was lost is then answered 42014 instead of showing the card twice.
		id := r.newTaskID()
		card := RenderCard(rep, id, r.lang)
		card.TaskID = id
		_, err := r.c.SendCard(ctx, to, card)
		return err
	case chat.ReplyList:
		return r.sendParts(ctx, to, "markdown", RenderMarkdown(rep, r.lang, MaxTextBytes))
	default:
		return r.sendParts(ctx, to, "text", RenderText(rep, r.lang, MaxTextBytes))
	}
}

// updateCard spends rep.UpdateCode on the clicked card. It reports false without an
// error for replies a card cannot show (lists), which then go out as new messages.
func (r *Replier) updateCard(ctx context.Context, user string, rep chat.Reply) (bool, error) {
	to := []string{user}
	var err error
	switch rep.Kind {
	case chat.ReplyList:
		return false, nil
	case chat.ReplyText:
		parts := RenderText(rep, r.lang, MaxTextBytes)
		if len(parts) == 1 && len(parts[0]) <= replaceNameBytes && !strings.Contains(parts[0], "\n") {
			err = r.c.UpdateCardButtons(ctx, to, rep.UpdateCode, parts[0])
		} else {
			err = r.c.UpdateCard(ctx, to, rep.UpdateCode, RenderCard(rep, "", r.lang))
		}
	default:
		err = r.c.UpdateCard(ctx, to, rep.UpdateCode, RenderCard(rep, r.newTaskID(), r.lang))
	}
	return err == nil, err
}

// sendParts sends the parts of one reply; the budget already holds room for the first.
func (r *Replier) sendParts(ctx context.Context, to []string, msgtype string, parts []string) error {
	for i, p := range parts {
		if i > 0 {
			if _, err := r.budget.Wait(ctx, to...); err != nil {
				return err
			}
		}
		if _, err := r.c.Send(ctx, Message{ToUser: to, MsgType: msgtype, Content: p}); err != nil {
			return err
		}
	}
	return nil
}
