package wecom

// Template card wire types (message/send msgtype template_card, and update_template_card).
// Only the parts the bot uses are modelled; see developer.work.weixin.qq.com/document/path/90236.

// Card types the bot sends.
const (
	CardTextNotice        = "text_notice"
	CardButtonInteraction = "button_interaction"
)

// TemplateCard is a WeCom template card. A text_notice card needs CardAction; an
// interactive card (button_interaction) needs a TaskID that is fresh for every card (WeCom
// refuses a task_id it has seen for the app) and at most 6 buttons.
type TemplateCard struct {
	CardType              string              `json:"card_type"`
	Source                *CardSource         `json:"source,omitempty"`
	MainTitle             *CardTitle          `json:"main_title,omitempty"`
	EmphasisContent       *CardTitle          `json:"emphasis_content,omitempty"`
	SubTitleText          string              `json:"sub_title_text,omitempty"`
	HorizontalContentList []HorizontalContent `json:"horizontal_content_list,omitempty"`
	CardAction            *CardAction         `json:"card_action,omitempty"`
	JumpList              []CardJump          `json:"jump_list,omitempty"`
	TaskID                string              `json:"task_id,omitempty"`
	ButtonList            []CardButton        `json:"button_list,omitempty"`
	// ReplaceText, in an update of an interactive card, greys its buttons with this text.
	ReplaceText string `json:"replace_text,omitempty"`
}

// CardSource is the small line above the title; DescColor 0 grey, 1 black, 2 red, 3 green.
type CardSource struct {
	IconURL   string `json:"icon_url,omitempty"`
	Desc      string `json:"desc,omitempty"`
	DescColor int    `json:"desc_color,omitempty"`
}

// CardTitle is a title with an optional grey description.
type CardTitle struct {
	Title string `json:"title,omitempty"`
	Desc  string `json:"desc,omitempty"`
}

// HorizontalContent is one "key: value" row of a card (at most 6 per card).
type HorizontalContent struct {
	KeyName string `json:"keyname"`
	Value   string `json:"value,omitempty"`
}

// CardAction is what tapping the card does: Type 1 opens URL.
type CardAction struct {
	Type int    `json:"type"`
	URL  string `json:"url,omitempty"`
}

// CardJump is one link under a text_notice card (jump_list, at most 3): Type 1 opens URL.
type CardJump struct {
	Type  int    `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url,omitempty"`
}

// CardButton is one button of a button_interaction card. Key comes back as the click's
// EventKey; Style is 1 primary, 2 secondary, 3 red, 4 blue.
type CardButton struct {
	Text  string `json:"text"`
	Style int    `json:"style,omitempty"`
	Key   string `json:"key"`
}
