import Synchronization
import TChatProtocol

/// The servers of the network and their load. Until servers link, the network is this server alone.
final class ServerManager: Sendable {
    let name: String
    let startedAt: Timestamp
    let capacity: Int
    /// The client address as others should dial it; the real port is known once the socket is bound.
    private let address: Mutex<String>
    private let load: @Sendable () -> Int

    init(name: String, clientAddress: String, capacity: Int, load: @escaping @Sendable () -> Int) {
        self.name = name
        self.startedAt = .now()
        self.capacity = capacity
        self.address = Mutex(clientAddress)
        self.load = load
    }

    var clientAddress: String {
        get { address.withLock { $0 } }
        set { address.withLock { $0 = newValue } }
    }

    func list() -> [ServerInfo] {
        [
            ServerInfo(
                name: name, version: TChatVersion.current, clientAddress: clientAddress,
                clients: UInt32(clamping: load()), capacity: UInt32(clamping: capacity), startedAt: startedAt,
                isThisServer: true)
        ]
    }
}
