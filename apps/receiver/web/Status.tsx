import { STATUS_LABELS } from "./format.ts"

/** A postback status: a colour (`status-<name>` in styles.css) and always its name as text. */
export const StatusBadge = (props: { readonly status: string }) => (
  <span class={`status status-${props.status.replace(/[^a-z_-]/g, "")}`}>
    {STATUS_LABELS[props.status] ?? props.status}
  </span>
)

/** Marks a test postback (sent by "Send test postback": never credits anyone). */
export const TestBadge = () => (
  <span class="tag tag-test" title="Test postback: never credits anyone">
    test
  </span>
)
