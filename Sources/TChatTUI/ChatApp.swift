import Dispatch
import Foundation
import Synchronization
public import TChatClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The full-screen client's event loop: one thread waits on the keyboard and on a wake-up pipe together; session
/// events and signals only queue work and write a byte to the pipe. Each turn feeds keys and events to the model,
/// carries out its effects, and redraws once if anything changed.
public final class ChatApp {
    /// Work queued for the loop by other threads.
    final class Inbox: Sendable {
        private let events = Mutex<[SessionEvent]>([])
        private let flags = Mutex<(resize: Bool, terminate: Bool)>((false, false))
        let readEnd: Int32
        let writeEnd: Int32

        init() {
            var ends: [Int32] = [0, 0]
            _ = pipe(&ends)
            readEnd = ends[0]
            writeEnd = ends[1]
            _ = fcntl(readEnd, F_SETFL, O_NONBLOCK)
            _ = fcntl(writeEnd, F_SETFL, O_NONBLOCK)
        }

        func post(_ event: SessionEvent) {
            events.withLock { $0.append(event) }
            wake()
        }

        func requestResize() {
            flags.withLock { $0.resize = true }
            wake()
        }

        func requestTermination() {
            flags.withLock { $0.terminate = true }
            wake()
        }

        /// A full pipe already means "wake up"; a failed write loses nothing.
        private func wake() {
            var byte: UInt8 = 1
            _ = write(writeEnd, &byte, 1)
        }

        func take() -> (events: [SessionEvent], resize: Bool, terminate: Bool) {
            var scratch = [UInt8](repeating: 0, count: 256)
            while read(readEnd, &scratch, scratch.count) > 0 {}
            let taken = events.withLock { events in
                defer { events.removeAll() }
                return events
            }
            let (resize, terminate) = flags.withLock { flags in
                defer { flags.resize = false }
                return (flags.resize, flags.terminate)
            }
            return (taken, resize, terminate)
        }
    }

    public private(set) var ui: ChatUI
    private let terminal: any Terminal
    private let session: ChatSession
    private let inbox: Inbox
    private let input: Int32
    private var decoder = KeyDecoder()
    private var signalSources: [any DispatchSourceSignal] = []
    private let ignoreFile: IgnoreFile?

    /// Builds the session and the screen. With `routeSignals`, SIGWINCH, SIGINT, SIGTERM and SIGHUP are routed to
    /// the loop before `makeTerminal` starts curses, so ncurses never installs handlers of its own. Keys are read
    /// from the file descriptor `input` (standard input by default).
    public init(
        ui: ChatUI, session makeSession: (_ onEvent: @escaping @Sendable (SessionEvent) -> Void) -> ChatSession,
        input: Int32 = 0, routeSignals: Bool = true, ignoreFile: IgnoreFile? = nil, makeTerminal: () -> any Terminal
    ) {
        self.ignoreFile = ignoreFile
        let inbox = Inbox()
        self.inbox = inbox
        self.ui = ui
        self.input = input
        session = makeSession { event in inbox.post(event) }
        if routeSignals {
            for (number, action) in [
                (SIGWINCH, inbox.requestResize), (SIGINT, inbox.requestTermination),
                (SIGTERM, inbox.requestTermination), (SIGHUP, inbox.requestTermination),
            ] as [(Int32, @Sendable () -> Void)] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler(handler: action)
                source.resume()
                signalSources.append(source)
            }
        }
        terminal = makeTerminal()
        let size = terminal.size
        self.ui.resize(width: size.width, height: size.height)
    }

    /// Builds the client and runs it on a thread of its own, returning when it ends. The loop blocks in `poll`
    /// between keys, which must never hold one of the few threads Swift's cooperative pool has for async work
    /// (the session's among them).
    public static func runOnOwnThread(
        ui: ChatUI,
        session makeSession: @escaping @Sendable (_ onEvent: @escaping @Sendable (SessionEvent) -> Void) -> ChatSession,
        ignoreFile: IgnoreFile? = nil, makeTerminal: @escaping @Sendable () -> any Terminal
    ) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                ChatApp(ui: ui, session: makeSession, ignoreFile: ignoreFile, makeTerminal: makeTerminal).run()
                done.resume()
            }
            thread.name = "tchat-ui"
            thread.start()
        }
    }

    /// Asks the loop to end, as SIGTERM does (for tests and embedding).
    public func terminate() { inbox.requestTermination() }

    /// Runs until the user quits or a signal ends it; the terminal is restored on every way out.
    public func run() {
        defer { terminal.end() }
        let session = self.session
        let sessionTask = Task.detached { await session.run() }
        terminal.draw(ScreenComposer.compose(ui))
        var running = true
        var buffer = [UInt8](repeating: 0, count: 4096)
        while running {
            var fds = [
                pollfd(fd: input, events: Int16(POLLIN), revents: 0),
                pollfd(fd: inbox.readEnd, events: Int16(POLLIN), revents: 0),
            ]
            // A lone ESC waits 25 ms for the rest of a sequence; otherwise wake twice a second for the lag.
            let ready = poll(&fds, 2, decoder.isWaiting ? 25 : 500)
            var effects: [Effect] = []
            var changed = false
            if ready == 0 && decoder.isWaiting {
                for key in decoder.flushEscape() { effects += ui.handle(key) }
                changed = true
            }
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let count = read(input, &buffer, buffer.count)
                if count <= 0 {
                    running = false  // the terminal went away
                } else {
                    for key in decoder.feed(buffer[0..<count]) { effects += ui.handle(key) }
                    changed = true
                }
            }
            let work = inbox.take()
            for event in work.events { effects += ui.handle(event) }
            if !work.events.isEmpty { changed = true }
            if work.resize {
                let size = terminal.size
                terminal.resize(width: size.width, height: size.height)
                ui.resize(width: size.width, height: size.height)
                changed = true
            }
            if work.terminate {
                effects += [.session(.quit(reason: "terminated")), .quit]
            }
            let lag = session.lag
            if lag != ui.lag {
                ui.lag = lag
                changed = true
            }
            for effect in effects {
                switch effect {
                case .session(let command): session.submit(command)
                case .bell: terminal.bell()
                case .redraw: terminal.invalidate()
                case .mouse(let on): terminal.setMouse(on)
                case .saveIgnored(let nicks):
                    // A few bytes, on this thread (never an event loop's): the list is kept before the next key.
                    if let problem = ignoreFile?.save(nicks) { ui.showError(problem) }
                case .quit: running = false
                }
            }
            if changed || !effects.isEmpty { terminal.draw(ScreenComposer.compose(ui)) }
        }
        // Give the goodbye a moment to reach the server, then stop whatever is left.
        let deadline = DispatchTime.now() + .milliseconds(500)
        while !sessionTask.isCancelled, session.isRunning, DispatchTime.now() < deadline { usleep(10_000) }
        session.stop()
        for source in signalSources { source.cancel() }
    }
}
