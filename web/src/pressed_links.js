// A live page draws again when its data changed (live.js). A redraw between the press
// and the release of a link replaces the link, and the browser then clicks no link: the
// click is lost (the busier the engine, the more often). followPressedLinks follows a
// link pressed and released over the same target (the same href), drawn anew between.

// Listens on `root` (the document) from now on.
export function followPressedLinks(root) {
  let pressed = null; // the link of the primary press
  // A plain primary press (with a modifier the browser opens the link elsewhere).
  const plain = (e) => e.button === 0 && !e.ctrlKey && !e.metaKey && !e.shiftKey && !e.altKey;
  const linkOf = (e) => (plain(e) && e.target instanceof Element ? e.target.closest('a[href]') : null);
  root.addEventListener('pointerdown', (e) => {
    pressed = linkOf(e);
  }, true);
  root.addEventListener('pointerup', (e) => {
    const was = pressed;
    pressed = null;
    // Still there: the browser's own click follows it.
    if (!was || was.isConnected) return;
    const over = linkOf(e);
    if (over && over.getAttribute('href') === was.getAttribute('href')) location.href = was.getAttribute('href');
  }, true);
}
