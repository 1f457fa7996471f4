"""What a member is told about mail of theirs that went wrong (bounces, refused replies,
automatic answers): the notices in settings, never an address, never message text."""

from __future__ import annotations

NOTICE_TEXT = {
    "hard_bounce": "A notification to your email address could not be delivered: your mail "
                   "server says the address does not exist.",
    "mailbox_bounce": "A notification to your email address could not be delivered: your "
                      "mailbox is full or disabled.",
    "refused_bounce": "A notification to your email address was refused by your mail server "
                      "(for example by its spam filter). Notifications continue; if this "
                      "repeats, ask your mail provider to accept mail from TradeMail.",
    "soft_bounce": "A notification to your email address was delayed.",
    "reply_refused": "A reply by email was refused: it did not come from the address you "
                     "registered with (or did not pass the sender checks). Reply from that "
                     "address, or answer in the web inbox.",
    "reply_failed": "A reply by email could not be added to its conversation: it was too large "
                    "or could not be read. Answer in the web inbox instead.",
    "cc_not_mailed": "Your reply by email named other addresses in Cc. TradeMail does not mail "
                     "them: only the people in the conversation received your reply here. "
                     "Those you copied did get your mail directly, with this conversation's "
                     "reply address in it, so that address no longer works: your next "
                     "notification carries a new one.",
    "outbound_bounce": "A message you sent to an outside correspondent could not be delivered.",
    "parts_removed": "An attachment of your reply by email was removed because it contained "
                     "your email address; the rest of your reply was delivered.",
    "alias_refused": "Mail to one of your aliases was refused because the alias is disabled.",
    "auto_reply": "Your mailbox answered a notification automatically (an out-of-office or "
                  "an auto-responder). After three such answers in a day, notifications "
                  "pause until a day passes without one, so the two never mail in a loop.",
}
