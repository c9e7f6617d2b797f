// Server-sent events from a fetch() response: yields each event's data parsed as JSON, until
// "[DONE]" or the end of the body. (EventSource cannot POST, nor send an Authorization header.)

export async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data) continue;  // a comment or keep-alive
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}
