//! What the reader asks of the implementation behind it (the fast path or VSLQ): take a
//! cursor, read what it has, flush what is incomplete, let the cursor go. The reader holds
//! one engine and calls it once per step of a read call; the per-record work happens inside
//! [`Engine::step`], so the dynamic call never sits on the per-record path.

use crate::error::Error;
use crate::handle::{Cursor, Next};
use crate::options::ReadPath;
use crate::position::Resume;
use crate::visit::Delivery;

/// One way of turning a cursor's records into client request transactions.
pub(crate) trait Engine {
    /// Which implementation this is.
    fn path(&self) -> ReadPath;

    /// Whether the engine has a cursor to read.
    fn attached(&self) -> bool;

    /// Gives the engine a fresh cursor (at open, or after reattaching to a live log). Nothing
    /// is incomplete then: the previous cursor's transactions were flushed before it went.
    fn install(&mut self, cursor: Cursor);

    /// Reads until the cursor has nothing more for now ([`Next::End`], after applying `-T`
    /// to what is incomplete), the input ends or fails ([`Next::Eof`], [`Next::Io`]), the
    /// log is lost ([`Next::Overrun`], [`Next::Abandon`]), or at least `budget` transactions
    /// were delivered in this call ([`Next::More`]). Only called when [`Engine::attached`].
    fn step(&mut self, out: &mut Delivery<'_>, budget: usize) -> Result<Next, Error>;

    /// Forces complete and delivers every incomplete transaction (reason `flush`), while the
    /// cursor (and anything it maps) is still alive.
    fn flush(&mut self, out: &mut Delivery<'_>);

    /// Hands out only what completes after the start `resume` names (see [`Resume`]);
    /// `false` when the engine cannot tell positions (VSLQ).
    fn resume(&mut self, resume: Resume) -> bool;

    /// Drops the cursor after an overrun or abandon (after [`Engine::flush`]).
    fn detach(&mut self);
}
