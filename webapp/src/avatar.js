import { h } from "./dom.js";
import { initials, safeUrl } from "./format.js";

// An avatar image, or the person's initials when there is none or it does not load.
export function avatar(name, url, size = "md") {
  const fallback = h("span", { class: `avatar avatar-${size} initials`, "aria-hidden": "true" }, initials(name));
  const src = safeUrl(url);
  if (!src) return fallback;
  const img = h("img", { class: `avatar avatar-${size}`, src, alt: "", "aria-hidden": "true" });
  img.addEventListener("error", () => img.replaceWith(fallback), { once: true });
  return img;
}
