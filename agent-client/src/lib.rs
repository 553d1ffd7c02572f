//! heimdall-agent: an LLM agent whose hands are supervised sessions.
//!
//! The library behind `hm-agent` (and the Discord bridge): providers
//! speaking OpenAI-compatible, Anthropic and Gemini wire formats, the agent
//! loop, its tools, safe output (secret scrubbing, truncation, untrusted
//! wrapping), identity and skills, and the conversation store.

pub mod agent;
pub mod config;
pub mod conversation;
pub mod provider;
pub mod safe_output;
pub mod scrub;
pub mod setup;
pub mod store;
pub mod tools;
