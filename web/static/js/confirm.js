// Forms and buttons with data-confirm="…" ask before they submit (destructive actions).

/** Ask for confirmation before submitting any form carrying data-confirm. */
export function bindConfirms(root) {
  root.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const submitter = event.submitter;
    const message = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
}
