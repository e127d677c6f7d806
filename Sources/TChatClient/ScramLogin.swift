import Foundation
import NIOPosix
import TChatAuth
import TChatProtocol

/// A SCRAM-SHA-256 login over any request function: before the hello (while connecting) or after it (`/login`).
///
/// The password never leaves this process: the client proves it knows it, and the server proves it holds the
/// account's keys; a server that cannot is refused even if it says the login succeeded. Deriving the keys costs
/// the account's iteration count in HMACs (600,000 for new accounts, about 0.1 s), run on NIO's thread pool rather
/// than a cooperative thread.
enum ScramLogin {
    static func run(
        _ credentials: Credentials, submit: (ClientFrame) async throws -> [ServerFrame]
    ) async throws -> String {
        var client = ScramClient(
            account: credentials.account, password: credentials.password, nonce: RandomBytes.nonce())
        let first = try await submit(.login(mechanism: "SCRAM-SHA-256", data: try client.clientFirst()))
        guard case .authData(let serverFirst)? = first.first else {
            throw ConnectionError("the server answered LOGIN without its SCRAM challenge")
        }
        let proving = client
        let (final, proved) = try await NIOThreadPool.singleton.runIfActive {
            var client = proving
            let final = try client.receiveServerFirst(serverFirst)
            return (final, client)
        }
        client = proved
        let answer = try await submit(.loginContinue(data: final))
        guard case .authData(let serverFinal)? = answer.first else {
            throw ConnectionError("the server answered the login without proving it holds the account")
        }
        do {
            try client.receiveServerFinal(serverFinal)
        } catch {
            throw ConnectionError("the server could not prove it holds the account \(credentials.account): \(error)")
        }
        for case .loggedIn(let account) in answer { return account }
        throw ConnectionError("the server did not say the login succeeded")
    }
}

extension ChatConnection {
    /// Logs this session in to an account after its welcome; returns the account's name as the server spells it.
    public func login(_ credentials: Credentials) async throws -> String {
        try await ScramLogin.run(credentials) { try await request($0) }
    }

    /// Makes this session's nick an account with `password`; returns the account's name.
    public func register(password: String) async throws -> String {
        for case .loggedIn(let account) in try await request(.register(password: password)) { return account }
        throw ConnectionError("the server did not say the registration succeeded")
    }
}
