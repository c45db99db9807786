// HeHo's few HTTP calls that set or clear the session cookie (HttpOnly: this
// script never sees it). Each POST carries a CSRF token fetched just before, and
// the browser adds the page's Origin. On success the page is loaded anew, so that
// Reflex reconnects with the new cookie.
window.hehoAuth = {
  async post(path, data, base) {
    const root = base || window.location.origin;
    try {
      const csrf = await fetch(root + "/auth/csrf", { credentials: "include" });
      const { csrf_token } = await csrf.json();
      const response = await fetch(root + path, {
        method: "POST",
        credentials: "include",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf_token },
        body: JSON.stringify(data || {}),
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok && body.redirect) {
        window.location.assign(body.redirect);
        return { ok: true };
      }
      return {
        ok: false,
        status: response.status,
        error: body.error || { code: "unknown", message: "Something went wrong. Try again." },
      };
    } catch (failure) {
      return {
        ok: false,
        status: 0,
        error: { code: "network", message: "HeHo cannot be reached. Check your connection." },
      };
    }
  },
  formData(id) {
    const form = document.getElementById(id);
    return form ? Object.fromEntries(new FormData(form).entries()) : {};
  },
};
