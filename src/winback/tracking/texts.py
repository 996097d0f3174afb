"""The words of the customer-facing pages, in Chinese and English."""

from __future__ import annotations

__all__ = ["LANGS", "TEXTS", "lang_for", "texts"]

LANGS = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "html_lang": "en",
        "unsubscribe_title": "Unsubscribe",
        "unsubscribe_lead": "Do you want to stop receiving our marketing emails at {address}?",
        "unsubscribe_lead_plain": "Do you want to stop receiving our marketing emails?",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_lead": "You will not receive our marketing emails any more. It can take up to a minute "
                             "for messages already on their way to stop.",
        "preferences_link": "Manage your preferences instead",
        "preferences_after": "Change what you receive",
        "survey_link": "Tell us why you are leaving (one question)",
        "preferences_title": "Your preferences",
        "greeting": "Hello {name}",
        "topics": "What would you like to hear about?",
        "topic_offers": "Offers and discounts",
        "topic_new_products": "New products",
        "topic_news": "News",
        "frequency": "How often?",
        "frequency_any": "No limit",
        "frequency_weekly": "At most once a week",
        "frequency_monthly": "At most once a month",
        "frequency_pause_30": "Pause for 30 days",
        "frequency_pause_90": "Pause for 90 days",
        "frequency_keep": "Keep the pause until {date}",
        "channels": "How may we reach you?",
        "channel_email": "Email",
        "channel_sms": "SMS",
        "language": "Language",
        "save": "Save",
        "saved": "Your preferences are saved.",
        "unsubscribe_all": "Unsubscribe from everything",
        "unsubscribe_all_note": "Stops all marketing email and SMS.",
        "errors_title": "Nothing was saved:",
        "error_no_topic": "Choose at least one topic, or unsubscribe from everything.",
        "error_no_channel": "Choose at least one channel, or unsubscribe from everything.",
        "error_bad_value": "One of the choices is not valid; please choose again.",
        "error_expired": "This form is too old or was not sent from this page. Please try again.",
        "survey_title": "One question",
        "survey_question": "Why did you stop buying?",
        "survey_price": "Price",
        "survey_missing_feature": "Missing features",
        "survey_service": "Service",
        "survey_product_quality": "Product quality",
        "survey_competitor": "Found an alternative",
        "survey_no_longer_needed": "No longer need it",
        "survey_other": "Other",
        "survey_text": "Anything you would like to add? (optional)",
        "survey_send": "Send",
        "survey_choose": "Please choose an answer.",
        "survey_thanks_title": "Thank you",
        "survey_thanks": "Thank you for telling us. It helps us do better.",
        "view_gone_title": "Message not available",
        "view_gone": "This message is no longer available.",
    },
    "zh": {
        "html_lang": "zh-CN",
        "unsubscribe_title": "退订",
        "unsubscribe_lead": "您要停止向 {address} 接收我们的营销邮件吗？",
        "unsubscribe_lead_plain": "您要停止接收我们的营销邮件吗？",
        "unsubscribe_button": "退订",
        "unsubscribed_title": "您已退订",
        "unsubscribed_lead": "您将不再收到我们的营销邮件。已在发送途中的邮件最多需要一分钟才会停止。",
        "preferences_link": "改为管理您的偏好设置",
        "preferences_after": "更改您接收的内容",
        "survey_link": "告诉我们您离开的原因（只有一个问题）",
        "preferences_title": "您的偏好设置",
        "greeting": "{name}，您好",
        "topics": "您想收到哪些内容？",
        "topic_offers": "优惠与折扣",
        "topic_new_products": "新品",
        "topic_news": "资讯",
        "frequency": "接收频率",
        "frequency_any": "不限",
        "frequency_weekly": "每周最多一次",
        "frequency_monthly": "每月最多一次",
        "frequency_pause_30": "暂停 30 天",
        "frequency_pause_90": "暂停 90 天",
        "frequency_keep": "保持暂停至 {date}",
        "channels": "我们可以通过哪些方式联系您？",
        "channel_email": "电子邮件",
        "channel_sms": "短信",
        "language": "语言",
        "save": "保存",
        "saved": "您的偏好设置已保存。",
        "unsubscribe_all": "退订全部",
        "unsubscribe_all_note": "停止所有营销邮件和短信。",
        "errors_title": "未保存任何内容：",
        "error_no_topic": "请至少选择一个主题，或选择退订全部。",
        "error_no_channel": "请至少选择一种联系方式，或选择退订全部。",
        "error_bad_value": "有一项选择无效，请重新选择。",
        "error_expired": "此表单已过期或并非从本页提交，请重试。",
        "survey_title": "一个问题",
        "survey_question": "您为什么不再购买了？",
        "survey_price": "价格",
        "survey_missing_feature": "缺少功能",
        "survey_service": "服务",
        "survey_product_quality": "产品质量",
        "survey_competitor": "找到了替代品",
        "survey_no_longer_needed": "不再需要",
        "survey_other": "其他",
        "survey_text": "还有什么想告诉我们的吗？（选填）",
        "survey_send": "提交",
        "survey_choose": "请选择一个答案。",
        "survey_thanks_title": "谢谢",
        "survey_thanks": "感谢您的反馈，这能帮助我们做得更好。",
        "view_gone_title": "邮件不可用",
        "view_gone": "此邮件已不可查看。",
    },
}


def lang_for(*candidates: str | None) -> str:
    """The first candidate that names a language we have (zh, zh-CN, zh_TW → zh; en-GB → en); else English."""
    for value in candidates:
        head = (value or "").strip().replace("_", "-").lower().split("-")[0]
        if head in LANGS:
            return head
    return "en"


def texts(lang: str) -> dict[str, str]:
    """The string table of `lang` (English for anything else)."""
    return TEXTS.get(lang, TEXTS["en"])
