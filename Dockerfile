# One image for every mcpq process: submitter, joiner, the example MCP server, the CLI.
# docker build -t mcpq . ; docker run mcpq   (a joiner: the CMD below; other processes: docker run mcpq node services/submitter/dist/main.js)
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.json tsconfig.base.json ./
COPY patches ./patches
COPY packages ./packages
COPY services ./services
COPY examples ./examples
COPY test/package.json ./test/package.json
COPY bench/package.json ./bench/package.json
RUN pnpm install --frozen-lockfile && pnpm build

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
USER node
# Both services drain on SIGTERM and exit 0.
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=4", "services/joiner/dist/main.js"]
