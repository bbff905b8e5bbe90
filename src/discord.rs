//! The Discord adapter: briefbot's rendered messages ([`crate::render`], pure and checked against
//! Discord's limits) turned into serenity's builders, for the delivery worker's posts and the
//! lookups' replies alike.

use serenity::builder::{CreateAllowedMentions, CreateEmbed, CreateEmbedFooter, CreateMessage};

use crate::render::{Embed, Message};

/// A rendered embed as serenity sends it.
pub fn embed(e: &Embed) -> CreateEmbed {
    let mut embed = CreateEmbed::new();
    if let Some(title) = &e.title {
        embed = embed.title(title);
    }
    if let Some(url) = &e.url {
        embed = embed.url(url);
    }
    if !e.description.is_empty() {
        embed = embed.description(&e.description);
    }
    if let Some(footer) = &e.footer {
        embed = embed.footer(CreateEmbedFooter::new(footer));
    }
    if let Some(t) = e.timestamp {
        embed = embed.timestamp(t);
    }
    embed
}

/// A rendered message as a post to a channel, allowed to mention nobody (scraped text is
/// escaped too; this is the second lock on the same door).
pub fn message(message: &Message) -> CreateMessage {
    let mut builder = CreateMessage::new()
        .embeds(message.embeds.iter().map(embed).collect())
        .allowed_mentions(CreateAllowedMentions::new());
    if let Some(content) = &message.content {
        builder = builder.content(content);
    }
    builder
}
