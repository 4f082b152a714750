// Starts GraphiQL with the explorer plugin on this page's own endpoint. Loaded after the UMD bundles
// (React, ReactDOM, GraphiQL, GraphiQLPluginExplorer), from the app itself: no CDN, no inline script.
(function () {
  "use strict";

  const DEFAULT_QUERY = `# Taskboard API
#
# Every operation but apiVersion needs a bearer token;
# \`make run\` prints one. Open "Headers" below, paste:
#   {"Authorization": "Bearer <token>"}
#
# Run: Ctrl-Enter or the play button.

query Board {
  tasks(first: 20) {
    totalCount
    nodes {
      title
      status
      priority
      assignee { name }
      tags { name }
    }
  }
}
`;

  // GraphiQL's dialogs (react-remove-scroll) append a <style> to <head>. The CSP allows inline styles only
  // with this page's nonce, and the UMD build has no hook to pass one in: tag such elements on their way in.
  const nonce = document.currentScript.nonce;
  const head = document.head;
  const appendChild = head.appendChild;
  head.appendChild = function (node) {
    if (node instanceof HTMLStyleElement && !node.nonce) node.nonce = nonce;
    return appendChild.call(this, node);
  };

  const url = window.location.href.split(/[?#]/)[0];
  const wsUrl = new URL(url);
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";

  // Subscriptions sign in with the connection_init payload, so the Headers tab becomes that payload
  // ({"Authorization": "Bearer ..."}): one WebSocket client per distinct set of headers, the last one kept.
  let current = { key: null, fetcher: null };
  function fetcherFor(headers) {
    const key = JSON.stringify(headers || {});
    if (current.key !== key) {
      current = {
        key: key,
        fetcher: GraphiQL.createFetcher({
          url: url,
          subscriptionUrl: wsUrl.toString(),
          wsConnectionParams: headers || {},
        }),
      };
    }
    return current.fetcher;
  }
  function fetcher(params, options) {
    return fetcherFor(options && options.headers)(params, options);
  }

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();
